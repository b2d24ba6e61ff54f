//! The AWS emulator (moto's server) as a child process on 127.0.0.1, stopped
//! when this value is dropped. It is started through a small launcher that
//! serves one request at a time (see `moto_single_threaded.py` for why).

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use shared::error::BoxError;

/// A running emulator.
pub struct Emulator {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Emulator {
    /// Starts moto with `python` (the venv's interpreter) on `port`, its
    /// output going to `log`.
    pub fn start(python: &Path, port: u16, log: &Path) -> Result<Self, BoxError> {
        if !python.exists() {
            return Err(format!("{} not found: run bin/stack or bin/test, which install the emulator", python.display()).into());
        }
        let out = File::create(log)?;
        let child = Command::new(python)
            .args(["-c", include_str!("moto_single_threaded.py"), "127.0.0.1", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        Ok(Emulator { child, port })
    }

    /// The endpoint URL the AWS SDK is pointed at.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until the emulator accepts connections.
    pub async fn wait_ready(&mut self) -> Result<(), BoxError> {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("the emulator exited at start ({status})").into());
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("the emulator did not answer within 30 s".into())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
