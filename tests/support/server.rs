//! A TCP server on its own thread with its own current-thread tokio runtime, so that it keeps
//! serving while a test's actix `System` runs (or blocks); stopped and joined on drop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub(crate) struct ServerThread {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    /// Binds 127.0.0.1 on an ephemeral port and runs `handle` for every accepted connection,
    /// each on its own task.
    pub(crate) fn spawn<F, Fut>(name: &str, handle: F) -> ServerThread
    where
        F: Fn(TcpStream, SocketAddr) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        listener.set_nonblocking(true).expect("set_nonblocking");
        let addr = listener.local_addr().expect("local_addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let (shutdown, mut stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("building the server runtime");
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    let listener = TcpListener::from_std(listener).expect("from_std");
                    loop {
                        tokio::select! {
                            _ = &mut stop => break,
                            accepted = listener.accept() => match accepted {
                                Ok((stream, peer)) => {
                                    counter.fetch_add(1, Ordering::SeqCst);
                                    let _ = stream.set_nodelay(true);
                                    tokio::task::spawn_local(handle(stream, peer));
                                }
                                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
                            },
                        }
                    }
                });
                // Dropping the LocalSet and the runtime cancels every connection still open,
                // including the ones held by a delayed (hung) response.
                drop(local);
                runtime.shutdown_background();
            })
            .expect("spawning the server thread");
        ServerThread {
            addr,
            connections,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TCP connections accepted so far.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A URL on 127.0.0.1 where nothing listens (a port bound and released at once): connecting
/// to it is refused.
pub fn refused_base_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    let port = listener.local_addr().expect("local_addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
