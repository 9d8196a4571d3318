//! A Redis Cluster spoken to over the same guarded connections as one node.
//!
//! The `redis` crate's cluster client makes its connections itself, on streams no limit can be
//! put on: a node that streams an endless reply would be buffered whole. Here the routing is
//! our own, and small for what this cache sends (one key per command): the key's slot (CRC16
//! of the key, or of its `{hash tag}`), the slot map from `CLUSTER SLOTS`, `MOVED` (the slot
//! remembered at its new node) and `ASK` (`ASKING`, then the command, once) followed; every
//! node's connection is made by [`node`], so every byte read from every node, the slot map
//! included, passes a [`Guarded`](super::guard::Guarded) stream.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use redis::aio::MultiplexedConnection;
use redis::{
    Cmd, ConnectionAddr, ConnectionInfo, ErrorKind, FromRedisValue, RedisError, RedisResult,
    ServerErrorKind, Value,
};

use super::connect::{Settings, at, node};

/// The cluster's slots: `0..SLOTS`.
const SLOTS: u16 = 16384;

/// Redirections followed for one command. A slot being migrated costs an `ASK`, a slot moved
/// a `MOVED`: more is nodes sending each other the command, which is an error.
const MAX_REDIRECTIONS: usize = 5;

/// A node, as the cluster names it (`CLUSTER SLOTS`, `MOVED`, `ASK`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Address {
    pub(super) host: String,
    pub(super) port: u16,
}

impl Address {
    /// The host and port of a seed URL (`None` for a Unix socket, which no cluster has).
    pub(super) fn of(info: &ConnectionInfo) -> Option<Address> {
        match info.addr() {
            ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                Some(Address {
                    host: host.clone(),
                    port: *port,
                })
            }
            _ => None,
        }
    }

    /// `host:port` of a redirection (the host is everything before the last colon: an IPv6
    /// address has colons of its own); an empty host is the answering node's.
    fn parse(text: &str, answering: &Address) -> Option<Address> {
        let (host, port) = text.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Some(Address {
            host: if host.is_empty() {
                answering.host.clone()
            } else {
                host.to_owned()
            },
            port: port.parse().ok()?,
        })
    }
}

/// The slot of `key`: CRC16 (XMODEM) of the key, or of the text between its first `{` and the
/// next `}` when that is not empty, modulo 16384, as Redis Cluster defines it.
pub(super) fn slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16::State::<crc16::XMODEM>::calculate(tagged.unwrap_or(key)) % SLOTS
}

/// A connection to a cluster: its slot map and a connection per node used. Dropped whole
/// when a connection fails (the next command maps the cluster again).
pub(super) struct Cluster {
    /// Credentials, database and TLS for every node; its address is replaced by each node's.
    template: ConnectionInfo,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// `(first, last, node)` per range of slots, from `CLUSTER SLOTS`.
    ranges: Vec<(u16, u16, Address)>,
    /// Slots a `MOVED` placed elsewhere since (only the slots of keys this cache sent).
    moved: HashMap<u16, Address>,
    /// The connections made, by node.
    nodes: HashMap<Address, MultiplexedConnection>,
}

impl Cluster {
    /// Maps the cluster from the first of `seeds` that answers `CLUSTER SLOTS` (the first seed
    /// gives credentials, database and TLS to all).
    pub(super) async fn connect(
        seeds: &[ConnectionInfo],
        settings: &Settings,
    ) -> RedisResult<Cluster> {
        let mut last = RedisError::from((ErrorKind::InvalidClientConfig, "no cluster node given"));
        for seed in seeds {
            match map(seed, settings).await {
                Ok((address, ranges, connection)) => {
                    let state = State {
                        ranges,
                        moved: HashMap::new(),
                        nodes: HashMap::from([(address, connection)]),
                    };
                    return Ok(Cluster {
                        template: seeds[0].clone(),
                        state: Mutex::new(state),
                    });
                }
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    /// The nodes of the slot map (each once), to map the cluster from next time besides the
    /// seeds.
    pub(super) fn known(&self) -> Vec<Address> {
        let Ok(state) = self.state.lock() else {
            return Vec::new();
        };
        let mut seen = HashSet::new();
        state
            .ranges
            .iter()
            .filter(|(_, _, address)| seen.insert(address))
            .map(|(_, _, address)| address.clone())
            .collect()
    }

    /// Sends `command`, about `key`, to the node serving the key's slot, following `MOVED`
    /// and `ASK`.
    pub(super) async fn query<T: FromRedisValue>(
        &self,
        key: &[u8],
        command: &Cmd,
        settings: &Settings,
    ) -> RedisResult<T> {
        let slot = slot(key);
        let mut target = self.owner(slot)?;
        let mut asking = false;
        for _ in 0..=MAX_REDIRECTIONS {
            let mut connection = self.connection(&target, settings).await?;
            let reply = if asking {
                // One pipeline: nothing else can come between ASKING and the command.
                redis::pipe()
                    .cmd("ASKING")
                    .ignore()
                    .add_command(command.clone())
                    .query_async::<(T,)>(&mut connection)
                    .await
                    .map(|(value,)| value)
            } else {
                command.query_async(&mut connection).await
            };
            let error = match reply {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let Some((address, ask)) = redirection(&error, &target) else {
                return Err(error);
            };
            if !ask && let Ok(mut state) = self.state.lock() {
                state.moved.insert(slot, address.clone());
            }
            target = address;
            asking = ask;
        }
        // As for a slot no node serves: the cluster is in flux, to be mapped again.
        Err(RedisError::from((
            ErrorKind::Server(ServerErrorKind::ClusterDown),
            "too many cluster redirections",
        )))
    }

    /// The node serving `slot`, as last told.
    fn owner(&self, slot: u16) -> RedisResult<Address> {
        let state = self
            .state
            .lock()
            .map_err(|_| RedisError::from((ErrorKind::Client, "the slot map was poisoned")))?;
        state
            .moved
            .get(&slot)
            .or_else(|| {
                state
                    .ranges
                    .iter()
                    .find(|(first, last, _)| (*first..=*last).contains(&slot))
                    .map(|(_, _, address)| address)
            })
            .cloned()
            .ok_or_else(|| {
                RedisError::from((
                    ErrorKind::Server(ServerErrorKind::ClusterDown),
                    "no node serves the entry's slot",
                ))
            })
    }

    /// The connection to `address`, made now if it is the first command there.
    async fn connection(
        &self,
        address: &Address,
        settings: &Settings,
    ) -> RedisResult<MultiplexedConnection> {
        let kept = self
            .state
            .lock()
            .ok()
            .and_then(|state| state.nodes.get(address).cloned());
        if let Some(connection) = kept {
            return Ok(connection);
        }
        let connection = node(&at(&self.template, &address.host, address.port), settings).await?;
        if let Ok(mut state) = self.state.lock() {
            state.nodes.insert(address.clone(), connection.clone());
        }
        Ok(connection)
    }
}

/// Connects to `seed` and reads its slot map: the seed's address, the ranges, the connection.
async fn map(
    seed: &ConnectionInfo,
    settings: &Settings,
) -> RedisResult<(Address, Vec<(u16, u16, Address)>, MultiplexedConnection)> {
    let address = Address::of(seed).ok_or_else(|| {
        RedisError::from((
            ErrorKind::InvalidClientConfig,
            "a cluster node is reached by host and port",
        ))
    })?;
    let mut connection = node(seed, settings).await?;
    let reply: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut connection)
        .await?;
    let ranges = slot_ranges(reply, &address);
    if ranges.is_empty() {
        return Err(RedisError::from((
            ErrorKind::Server(ServerErrorKind::ClusterDown),
            "the cluster node serves no slot",
        )));
    }
    Ok((address, ranges, connection))
}

/// The ranges of a `CLUSTER SLOTS` reply with the master serving each (entries of another
/// shape are skipped). A master without a known host (empty, null, or a wildcard address) is
/// on the answering node's host; `?` is an unknown node, whose range is skipped.
fn slot_ranges(reply: Value, answering: &Address) -> Vec<(u16, u16, Address)> {
    let Value::Array(entries) = reply else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let Value::Array(entry) = entry else {
                return None;
            };
            let bound = |value: &Value| match value {
                Value::Int(n) => u16::try_from(*n).ok().filter(|&n| n < SLOTS),
                _ => None,
            };
            let (first, last) = (bound(entry.first()?)?, bound(entry.get(1)?)?);
            let Value::Array(master) = entry.get(2)? else {
                return None;
            };
            let host = match master.first()? {
                Value::BulkString(host) => std::str::from_utf8(host).ok()?,
                Value::SimpleString(host) => host.as_str(),
                Value::Nil => "",
                _ => return None,
            };
            let host = match host {
                "?" => return None,
                "" | "0.0.0.0" | "::" => answering.host.clone(),
                host => host.to_owned(),
            };
            let port = match master.get(1)? {
                Value::Int(port) => u16::try_from(*port).ok()?,
                _ => return None,
            };
            (first <= last).then_some((first, last, Address { host, port }))
        })
        .collect()
}

/// Where a `MOVED` (`false`) or `ASK` (`true`) error sends the command.
fn redirection(error: &RedisError, answering: &Address) -> Option<(Address, bool)> {
    let ask = match error.kind() {
        ErrorKind::Server(ServerErrorKind::Moved) => false,
        ErrorKind::Server(ServerErrorKind::Ask) => true,
        _ => return None,
    };
    let (address, _slot) = error.redirect_node()?;
    Some((Address::parse(address, answering)?, ask))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(host: &str, port: u16) -> Address {
        Address {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn slots_are_redis_clusters() {
        // The values of `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"123456789"), 12739);
        assert_eq!(slot(b""), 0);
        // A hash tag: only what is between the braces, when that is not empty.
        assert_eq!(slot(b"{user1000}.following"), slot(b"user1000"));
        // An empty tag: the whole key.
        assert_ne!(slot(b"foo{}{bar}"), slot(b"bar"));
        assert_eq!(slot(b"foo{{bar}}zap"), slot(b"{bar"));
    }

    #[test]
    fn a_slot_map_is_read_leniently() {
        let node = |host: Value, port: i64| {
            Value::Array(vec![
                host,
                Value::Int(port),
                Value::BulkString(b"id".to_vec()),
            ])
        };
        let entry = |first: i64, last: i64, master: Value| {
            Value::Array(vec![Value::Int(first), Value::Int(last), master])
        };
        let reply = Value::Array(vec![
            entry(0, 5460, node(Value::BulkString(b"10.0.0.1".to_vec()), 7000)),
            entry(5461, 10922, node(Value::BulkString(Vec::new()), 7001)),
            entry(10923, 16383, node(Value::Nil, 7002)),
            // Skipped: an unknown node, a slot out of range, an inverted range, no master.
            entry(1, 2, node(Value::BulkString(b"?".to_vec()), 7003)),
            entry(0, 16384, node(Value::Nil, 7004)),
            entry(9, 3, node(Value::Nil, 7005)),
            Value::Array(vec![Value::Int(0), Value::Int(1)]),
            Value::Int(7),
        ]);
        let answering = address("seed", 6379);
        assert_eq!(
            slot_ranges(reply, &answering),
            vec![
                (0, 5460, address("10.0.0.1", 7000)),
                (5461, 10922, address("seed", 7001)),
                (10923, 16383, address("seed", 7002)),
            ]
        );
        assert!(slot_ranges(Value::Okay, &answering).is_empty());
    }

    #[test]
    fn redirections_name_their_node() {
        let from = address("10.0.0.1", 7000);
        assert_eq!(
            Address::parse("10.0.0.2:7001", &from),
            Some(address("10.0.0.2", 7001))
        );
        assert_eq!(
            Address::parse("::1:7001", &from),
            Some(address("::1", 7001))
        );
        assert_eq!(
            Address::parse(":7001", &from),
            Some(address("10.0.0.1", 7001))
        );
        assert_eq!(Address::parse("10.0.0.2", &from), None);
        assert_eq!(Address::parse("10.0.0.2:port", &from), None);
    }
}
