//! Running the system tools the harness drives (`ip`, `iptables`, `kill`),
//! with their stderr in the error when they fail.

use anyhow::{Context, bail};

fn describe(program: &str, args: &[&str]) -> String {
    format!("{program} {}", args.join(" "))
}

fn check(program: &str, args: &[&str], output: std::process::Output) -> anyhow::Result<String> {
    if !output.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            describe(program, args),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `program args` to completion and returns its stdout.
pub fn run(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run `{}`", describe(program, args)))?;
    check(program, args, output)
}

/// Like [`run`], without blocking the async runtime.
pub async fn run_async(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run `{}`", describe(program, args)))?;
    check(program, args, output)
}

/// Runs `program args` inside network namespace `ns`.
pub async fn in_netns(ns: &str, program: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut full = vec!["netns", "exec", ns, program];
    full.extend_from_slice(args);
    run_async("ip", &full).await
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`, ...) to `pid`.
pub async fn signal(pid: u32, signal: &str) -> anyhow::Result<()> {
    run_async("kill", &[&format!("-{signal}"), &pid.to_string()])
        .await
        .map(drop)
}
