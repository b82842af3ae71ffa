//! Replicas as stateright actors on a lossy, duplicating, reordering network, and the
//! `Model` the checker explores.

use super::protocol::{Accept, Change, Durable, KeyId, Merge, Op, ReplicaIx};
use stateright::actor::{
    model_timeout, Actor, ActorModel, ActorModelAction, ActorModelState, Envelope, Id,
    LossyNetwork, Network, Out,
};
use stateright::{Model, Property};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A deliberate protocol flaw, to prove the checker can fail (or `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    None,
    /// Apply every received change, without the exactly-next check.
    NoNextCheck,
    /// Merge by arrival order instead of (HLC, node ID) and the lifecycle join.
    LastArrivalWins,
    /// Reply with a pool key before its take is durable (saved with the next step).
    KeyTakeNotDurable,
    /// Keep the HLC in memory only: it restarts from 0 after a crash.
    HlcNotDurable,
    /// Acknowledge a write before it is durable (saved with the next step).
    AckBeforeDurable,
    /// Serve only the replica's own changes, not those it stores for other origins.
    NoForwarding,
}

/// The bounds and topology of one run.
#[derive(Clone, Debug)]
pub struct Params {
    pub replicas: usize,
    /// K: at most this many changes per batch.
    pub batch: usize,
    /// Per replica, the client writes it accepts, in order (all on entity 0).
    pub writes: Vec<Vec<Op>>,
    /// Per replica, its own pool key IDs.
    pub pools: Vec<Vec<KeyId>>,
    /// Pairs of replicas whose link exists; replication pulls both ways over each.
    pub links: Vec<(usize, usize)>,
    pub lossy: bool,
    /// How many replicas may be down at the same time.
    pub max_crashes: usize,
    /// At most this many replication messages in flight at once (a bounded channel:
    /// past it, the network must lose a message before another is sent).
    pub max_in_flight: usize,
    pub flaw: Flaw,
}

impl Params {
    pub fn accept(&self) -> Accept {
        match self.flaw {
            Flaw::NoNextCheck => Accept::AnyReceived,
            _ => Accept::ExactlyNext,
        }
    }

    pub fn merge(&self) -> Merge {
        match self.flaw {
            Flaw::LastArrivalWins => Merge::LastArrivalWins,
            _ => Merge::Lattice,
        }
    }

    pub fn forward(&self) -> bool {
        self.flaw != Flaw::NoForwarding
    }

    pub fn peers(&self, r: usize) -> impl Iterator<Item = usize> + '_ {
        self.links.iter().filter_map(move |&(a, b)| match r {
            _ if r == a => Some(b),
            _ if r == b => Some(a),
            _ => None,
        })
    }

    pub fn linked(&self, a: usize, b: usize) -> bool {
        a == b || self.peers(a).any(|p| p == b)
    }

    pub fn total_writes(&self) -> usize {
        self.writes.iter().map(Vec::len).sum()
    }

    /// Where acknowledgements and pool keys go: one passive actor after the replicas.
    pub fn client(&self) -> Id {
        Id::from(self.replicas)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Msg {
    /// "Send me what follows this version vector."
    Pull(Vec<u8>),
    Batch(Vec<Change>),
    /// To the client: the write is durable.
    Ack {
        origin: ReplicaIx,
        seq: u8,
    },
    /// To a drive: here is your key.
    KeyIssued(KeyId),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Periodic pull from this peer.
    Pull(usize),
    /// Send the pending key replies.
    Reply,
}

/// A client request arriving at a replica (a random choice of the environment).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Request {
    Write,
    DriveKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplicaState {
    /// Equal to the saved storage, except under the flaws that skip or undo a save.
    pub durable: Durable,
    /// Volatile: keys taken whose reply has not left yet; a crash loses them.
    pub pending: Vec<KeyId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NodeState {
    Replica(ReplicaState),
    Client,
}

pub enum Node {
    Replica { ix: usize, params: Arc<Params> },
    Client,
}

impl Node {
    /// Offers the client requests this replica can still take: the next scripted write,
    /// and a drive request while its pool is not empty.
    fn offer(params: &Params, ix: usize, d: &Durable, o: &mut Out<Self>) {
        if usize::from(d.last_seq) < params.writes[ix].len() {
            o.choose_random("write", vec![Request::Write]);
        }
        if !d.pool.is_empty() {
            o.choose_random("drive", vec![Request::DriveKey]);
        }
    }
}

fn replica<'a>(state: &'a mut Cow<'_, NodeState>) -> &'a mut ReplicaState {
    match state.to_mut() {
        NodeState::Replica(r) => r,
        NodeState::Client => unreachable!("replica handler on the client"),
    }
}

impl Actor for Node {
    type Msg = Msg;
    type State = NodeState;
    type Timer = Timer;
    type Random = Request;
    type Storage = Durable;

    fn on_start(&self, _id: Id, storage: &Option<Durable>, o: &mut Out<Self>) -> NodeState {
        let Node::Replica { ix, params } = self else {
            return NodeState::Client;
        };
        let durable = match storage {
            Some(saved) => {
                let mut d = saved.clone();
                if params.flaw == Flaw::HlcNotDurable {
                    d.hlc = 0;
                }
                d
            }
            None => {
                let d = Durable::new(*ix as ReplicaIx, params.replicas, params.pools[*ix].clone());
                o.save(d.clone());
                d
            }
        };
        for peer in params.peers(*ix) {
            o.set_timer(Timer::Pull(peer), model_timeout());
        }
        Node::offer(params, *ix, &durable, o);
        NodeState::Replica(ReplicaState {
            durable,
            pending: Vec::new(),
        })
    }

    fn on_msg(&self, _id: Id, state: &mut Cow<NodeState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        let (Node::Replica { params, .. }, NodeState::Replica(r)) = (self, &**state) else {
            return;
        };
        match msg {
            Msg::Pull(vv) => {
                let batch = r.durable.serve(&vv, params.batch, params.forward());
                // An empty batch changes nothing at the puller; not sending it keeps
                // the network (and the state space) smaller.
                if !batch.is_empty() {
                    o.send(src, Msg::Batch(batch));
                }
            }
            Msg::Batch(changes) => {
                let mut d = r.durable.clone();
                if d.apply_batch(&changes, params.accept(), params.merge()) {
                    o.save(d.clone());
                    replica(state).durable = d;
                }
            }
            Msg::Ack { .. } | Msg::KeyIssued(_) => {}
        }
    }

    fn on_timeout(&self, _id: Id, state: &mut Cow<NodeState>, timer: &Timer, o: &mut Out<Self>) {
        let (Node::Replica { params, .. }, NodeState::Replica(r)) = (self, &**state) else {
            return;
        };
        match *timer {
            Timer::Pull(peer) => {
                o.send(Id::from(peer), Msg::Pull(r.durable.version_vector()));
                o.set_timer(Timer::Pull(peer), model_timeout());
            }
            Timer::Reply => {
                for key in replica(state).pending.drain(..) {
                    o.send(params.client(), Msg::KeyIssued(key));
                }
            }
        }
    }

    fn on_random(&self, _id: Id, state: &mut Cow<NodeState>, request: &Request, o: &mut Out<Self>) {
        let Node::Replica { ix, params } = self else {
            return;
        };
        let r = replica(state);
        match request {
            Request::Write => {
                let op = params.writes[*ix][usize::from(r.durable.last_seq)];
                let change = r.durable.local_write(0, op, params.merge());
                // Acknowledged only after the durable step.
                if params.flaw != Flaw::AckBeforeDurable {
                    o.save(r.durable.clone());
                }
                o.send(
                    params.client(),
                    Msg::Ack {
                        origin: change.origin,
                        seq: change.seq,
                    },
                );
            }
            Request::DriveKey => {
                if let Some(key) = r.durable.take_key() {
                    if params.flaw != Flaw::KeyTakeNotDurable {
                        o.save(r.durable.clone());
                    }
                    // The reply leaves in a later step: a crash in between loses it.
                    r.pending.push(key);
                    o.set_timer(Timer::Reply, model_timeout());
                }
            }
        }
        Node::offer(params, *ix, &r.durable, o);
    }
}

/// Ghost state for the properties, outside every replica so that no crash erases it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ghost {
    /// (origin, seq) of every acknowledged write.
    pub acked: BTreeSet<(ReplicaIx, u8)>,
    /// Multiset (sorted) of every pool key ID that left a node.
    pub issued: Vec<KeyId>,
}

fn record_out(_: &Arc<Params>, ghost: &Ghost, env: Envelope<&Msg>) -> Option<Ghost> {
    match *env.msg {
        Msg::Ack { origin, seq } => {
            let mut next = ghost.clone();
            next.acked.insert((origin, seq));
            Some(next)
        }
        Msg::KeyIssued(key) => {
            let mut next = ghost.clone();
            let at = next.issued.partition_point(|&k| k <= key);
            next.issued.insert(at, key);
            Some(next)
        }
        Msg::Pull(_) | Msg::Batch(_) => None,
    }
}

pub type State = ActorModelState<Node, Ghost>;
pub type Action = ActorModelAction<Msg, Timer, Request>;

/// The actor model. The client neither crashes nor loses messages: a lost ack would
/// only mean "not acknowledged", which the ghost expresses by not recording it.
pub struct Cluster {
    pub params: Arc<Params>,
    inner: ActorModel<Node, Arc<Params>, Ghost>,
}

impl Cluster {
    pub fn new(params: Params) -> Cluster {
        let params = Arc::new(params);
        let inner = ActorModel::new(Arc::clone(&params), Ghost::default())
            .actors((0..params.replicas).map(|ix| Node::Replica {
                ix,
                params: Arc::clone(&params),
            }))
            .actor(Node::Client)
            .init_network(Network::new_unordered_duplicating([]))
            .lossy_network(if params.lossy {
                LossyNetwork::Yes
            } else {
                LossyNetwork::No
            })
            .max_crashes(params.max_crashes)
            .record_msg_out(record_out);
        Cluster { params, inner }
    }

    /// The durable state of every replica, as it would be found after a restart.
    pub fn durables<'a>(&self, state: &'a State) -> impl Iterator<Item = &'a Durable> {
        state.actor_storages[..self.params.replicas]
            .iter()
            .map(|s| s.as_ref().expect("replicas save at start"))
    }

    /// Volatile state of the replicas that are up.
    pub fn live<'a>(&self, state: &'a State) -> impl Iterator<Item = (usize, &'a ReplicaState)> {
        state.actor_states[..self.params.replicas]
            .iter()
            .enumerate()
            .filter(|(i, _)| !state.crashed[*i])
            .filter_map(|(i, s)| match &**s {
                NodeState::Replica(r) => Some((i, r)),
                NodeState::Client => None,
            })
    }
}

impl Cluster {
    /// Two reductions that only take steps the real network may take anyway:
    /// - a batch whose delivery would change nothing at its destination, now or later
    ///   (logs only grow), is lost at once;
    /// - the "last delivered message" field, which only serves stateright's explorer,
    ///   is cleared, so that it does not multiply states.
    fn reduce(&self, mut state: State) -> State {
        let p = &self.params;
        let durables: Vec<Durable> = self.durables(&state).cloned().collect();
        if let Network::UnorderedDuplicating(set, last) = &mut state.network {
            *last = None;
            set.retain(|env| match &env.msg {
                Msg::Batch(changes) => durables
                    .get(usize::from(env.dst))
                    .is_some_and(|d| d.clone().apply_batch(changes, p.accept(), p.merge())),
                _ => true,
            });
        }
        state
    }
}

impl Model for Cluster {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        self.inner
            .init_states()
            .into_iter()
            .map(|s| self.reduce(s))
            .collect()
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.inner.actions(state, actions);
        let client = self.params.client();
        actions.retain(|a| match a {
            ActorModelAction::Drop(env) => env.dst != client,
            ActorModelAction::Deliver { dst, .. } => *dst != client,
            ActorModelAction::Crash(id) => *id != client,
            _ => true,
        });
    }

    fn next_state(&self, state: &State, action: Action) -> Option<State> {
        self.inner.next_state(state, action).map(|s| self.reduce(s))
    }

    fn format_action(&self, action: &Action) -> String {
        self.inner.format_action(action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        super::properties::all()
    }

    fn within_boundary(&self, state: &State) -> bool {
        let client = self.params.client();
        state
            .network
            .iter_all()
            .filter(|env| env.dst != client)
            .count()
            <= self.params.max_in_flight
    }
}
