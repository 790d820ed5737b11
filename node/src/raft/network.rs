//! Raft RPC between nodes: HTTP POSTs to internal routes with bodies in the
//! node's versioned codec.

use openraft::BasicNode;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec;
use crate::raft::types::{NodeId, TypeConfig, estimated_entry_bytes};

/// The header that carries the cluster secret on internal routes.
pub const CLUSTER_SECRET_HEADER: &str = "x-clearledger-cluster-secret";

/// Makes connections to peers.
#[derive(Clone)]
pub struct Network {
    client: reqwest::Client,
    scheme: &'static str,
    secret: Option<String>,
}

impl Network {
    /// A network that speaks `scheme` to peers, with `secret` on every request when set.
    pub fn new(client: reqwest::Client, scheme: &'static str, secret: Option<String>) -> Network {
        Network {
            client,
            scheme,
            secret,
        }
    }
}

/// A connection to one peer.
pub struct Connection {
    network: Network,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Connection {
        Connection {
            network: self.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

impl Connection {
    async fn send<Request, Response, Error>(
        &self,
        route: &str,
        request: Request,
        bytes: usize,
        option: &RPCOption,
    ) -> Result<Response, RPCError<NodeId, BasicNode, RaftError<NodeId, Error>>>
    where
        Request: Serialize,
        Response: DeserializeOwned,
        Error: std::error::Error + DeserializeOwned,
    {
        let url = format!(
            "{}://{}/internal/raft/{route}",
            self.network.scheme, self.addr
        );
        let body = crate::blocking::blocking_over(bytes, || codec::encode(&request));
        // Dropped before the answer is awaited: the entries it carries may
        // be the log cache's, which the apply then takes without a copy.
        drop(request);
        let mut builder = self
            .network
            .client
            .post(url)
            .timeout(option.hard_ttl())
            .body(body);
        if let Some(secret) = &self.network.secret {
            builder = builder.header(CLUSTER_SECRET_HEADER, secret);
        }
        let response = builder.send().await.map_err(|error| {
            if error.is_connect() {
                RPCError::Unreachable(Unreachable::new(&error))
            } else {
                RPCError::Network(NetworkError::new(&error))
            }
        })?;
        if !response.status().is_success() {
            let error = std::io::Error::other(format!("peer answered {}", response.status()));
            return Err(RPCError::Network(NetworkError::new(&error)));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|error| RPCError::Network(NetworkError::new(&error)))?;
        let result: Result<Response, RaftError<NodeId, Error>> =
            codec::decode(&bytes).map_err(|error| RPCError::Network(NetworkError::new(&error)))?;
        result.map_err(|error| RPCError::RemoteError(RemoteError::new(self.target, error)))
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        request: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let bytes = request.entries.iter().map(estimated_entry_bytes).sum();
        self.send("append", request, bytes, &option).await
    }

    async fn install_snapshot(
        &mut self,
        request: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let bytes = request.data.len();
        self.send("snapshot", request, bytes, &option).await
    }

    async fn vote(
        &mut self,
        request: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.send("vote", request, 0, &option).await
    }
}
