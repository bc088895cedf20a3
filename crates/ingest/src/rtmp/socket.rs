//! A connection's socket, registered with the runtime only while the connection waits for
//! bytes as they come.
//!
//! A publishing connection reads on the shared tick ([`super::server::READ_TICK`]), never on
//! readiness. Registered with the runtime, its socket would still wake a worker thread
//! whenever bytes arrive (each of a publisher's writes: 30 to 40 a second for a 3 Mbit/s
//! stream), only for the wake-up to find nothing to do: on an otherwise idle machine that
//! was most of what one stream cost (wake-ups are dear on a laptop's battery and in a
//! virtual machine alike). Detached, the socket is read without the runtime's help and the
//! thread sleeps from one tick to the next. Writes (acknowledgements, answers) go straight
//! to the detached socket; one that would block re-registers it and waits like any other.

use std::io::{self, Read, Write};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[derive(Debug)]
pub(super) enum ConnSocket {
    /// Registered with the runtime: readiness can be awaited.
    Registered(TcpStream),
    /// Not registered: non-blocking reads and writes only.
    Detached(std::net::TcpStream),
    /// Between the two, only if moving it failed (the connection then ends with the error).
    Moved,
}

impl ConnSocket {
    pub fn new(socket: TcpStream) -> ConnSocket {
        ConnSocket::Registered(socket)
    }

    /// Stops readiness wake-ups; reads and writes go on.
    pub fn detach(&mut self) -> io::Result<()> {
        if let ConnSocket::Registered(_) = self {
            let ConnSocket::Registered(s) = std::mem::replace(self, ConnSocket::Moved) else {
                unreachable!("matched just above")
            };
            // Stays non-blocking (tokio's documented behaviour).
            *self = ConnSocket::Detached(s.into_std()?);
        }
        Ok(())
    }

    /// Registers the socket again (a no-op when it is).
    fn attach(&mut self) -> io::Result<&mut TcpStream> {
        if let ConnSocket::Detached(_) = self {
            let ConnSocket::Detached(s) = std::mem::replace(self, ConnSocket::Moved) else {
                unreachable!("matched just above")
            };
            *self = ConnSocket::Registered(TcpStream::from_std(s)?);
        }
        match self {
            ConnSocket::Registered(s) => Ok(s),
            _ => Err(moved()),
        }
    }

    /// Waits until the socket can be read (registering it again if needed).
    pub async fn readable(&mut self) -> io::Result<()> {
        self.attach()?.readable().await
    }

    /// A non-blocking read: `WouldBlock` when nothing is waiting.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ConnSocket::Registered(s) => s.try_read(buf),
            ConnSocket::Detached(s) => (&*s).read(buf),
            ConnSocket::Moved => Err(moved()),
        }
    }

    pub async fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        if let ConnSocket::Detached(s) = self {
            while !bytes.is_empty() {
                match (&*s).write(bytes) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => bytes = &bytes[n..],
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // The peer is not reading: wait for it like a registered socket does.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            if bytes.is_empty() {
                return Ok(());
            }
        }
        self.attach()?.write_all(bytes).await
    }

    pub async fn flush(&mut self) -> io::Result<()> {
        match self {
            ConnSocket::Registered(s) => s.flush().await,
            ConnSocket::Detached(s) => s.flush(),
            ConnSocket::Moved => Err(moved()),
        }
    }
}

fn moved() -> io::Error {
    io::Error::other("the socket was lost while moving it to or from the runtime")
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    use super::*;

    async fn pair() -> (ConnSocket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (ConnSocket::new(accepted.unwrap().0), client.unwrap())
    }

    #[tokio::test]
    async fn detached_sockets_read_and_write_and_reattach() {
        let (mut socket, mut peer) = pair().await;
        socket.detach().unwrap();
        assert!(matches!(socket, ConnSocket::Detached(_)));
        let mut buf = [0u8; 64];
        let e = socket.try_read(&mut buf).unwrap_err();
        assert_eq!(
            e.kind(),
            io::ErrorKind::WouldBlock,
            "non-blocking once detached"
        );

        peer.write_all(b"hello").await.unwrap();
        peer.flush().await.unwrap();
        let mut got = Vec::new();
        while got.len() < 5 {
            match socket.try_read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, b"hello");

        socket.write_all(b"world").await.unwrap();
        let mut back = [0u8; 5];
        peer.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"world");

        // Waiting for bytes registers it again.
        peer.write_all(b"!").await.unwrap();
        socket.readable().await.unwrap();
        assert!(matches!(socket, ConnSocket::Registered(_)));
        assert_eq!(socket.try_read(&mut buf).unwrap(), 1);
        drop(peer);
        socket.detach().unwrap();
        // The peer's close reads as 0.
        let closed = async {
            loop {
                match socket.try_read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => panic!("{n} bytes after the close"),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), closed)
            .await
            .expect("the close is seen");
    }

    /// A write the peer does not take in at once (its window full) waits for it instead of
    /// failing or spinning.
    #[tokio::test]
    async fn a_blocked_write_waits_for_the_peer() {
        let (mut socket, mut peer) = pair().await;
        socket.detach().unwrap();
        // More than any loopback socket buffers take in at once.
        let big = vec![7u8; 64 << 20];
        let reader = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let mut all = Vec::new();
            peer.read_to_end(&mut all).await.unwrap();
            all
        });
        socket.write_all(&big).await.unwrap();
        assert!(
            matches!(socket, ConnSocket::Registered(_)),
            "registered to wait for the peer"
        );
        drop(socket);
        assert_eq!(reader.await.unwrap(), big);
    }
}
