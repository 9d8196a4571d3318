//! A stand-in for the ConfigCat CDN on 127.0.0.1, so the examples run offline: it serves
//! `GET /configuration-files/<sdk key>/config_v6.json` with whatever config it currently holds.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};

/// A running local CDN.
pub struct LocalCdn {
    pub address: SocketAddr,
    config: Arc<RwLock<String>>,
    handle: ServerHandle,
}

impl LocalCdn {
    /// Starts serving `config` on an ephemeral port of 127.0.0.1.
    pub fn start(config: &str) -> std::io::Result<LocalCdn> {
        let shared = Arc::new(RwLock::new(config.to_owned()));
        let served = shared.clone();
        let server = HttpServer::new(move || {
            let served = served.clone();
            App::new().route(
                "/configuration-files/{tail:.*}",
                web::get().to(move || {
                    let body = served.read().map(|c| c.clone()).unwrap_or_default();
                    async move {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body(body)
                    }
                }),
            )
        })
        .workers(1)
        .bind(("127.0.0.1", 0))?;
        let address = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix::spawn(server);
        Ok(LocalCdn {
            address,
            config: shared,
            handle,
        })
    }

    /// The base URL to give the client.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Serves another config from now on.
    #[allow(dead_code)]
    pub fn publish(&self, config: &str) {
        if let Ok(mut current) = self.config.write() {
            *current = config.to_owned();
        }
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}
