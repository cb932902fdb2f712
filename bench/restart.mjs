// Load generator for the restart scenario (bench/restart.py): the steady load of load.mjs while
// the server process is stopped and started again on the same port and database.
//
// The clients behave like the widget and the console: socket.io-client reconnects with the
// widget's back-off; a visitor resumes its conversation with its token; after each `welcome`
// every message not yet acknowledged is sent again with the same client_id (the server returns
// the stored message instead of storing it twice), then `history` fills in what the client missed
// while it was away. Messages due while a client is offline wait in its outbox, as in the widget.
//
// The harness is told about the restart on stdin: {"event": "stopping"} just before the signal,
// {"event": "up"} once the new process answers /healthz. The result lists every acknowledged
// client_id; the harness then checks the database (each stored exactly once).
import { createInterface } from "node:readline";
import { io } from "socket.io-client";
import { FILLER, now, out, pool, sleep, summary } from "./common.mjs";

const cfg = JSON.parse(process.argv[2]);
// How long a message waits for its ack on a live connection before it is sent again (the widget
// gives up after 10 s and offers "retry"; here the retry is pressed at once).
const ACK_MS = cfg.ackTimeoutMs || 60000;
const counters = {
  sent: 0, attempts: 0, acked: 0, resent: 0, resent_timeout: 0, unavailable: 0, failed: 0,
  errors: 0,
  mismatched: 0, refused: 0, disconnects: 0, reconnects: 0, history_calls: 0,
  reconnect_attempts: 0, connect_timeouts: 0,
  delivered_live: 0, delivered_history: 0, redelivered: 0,
};
const messages = new Map();  // key (= client_id) -> entry
const clients = [], visitors = [], agents = [];
const times = { signal: null, up: null, firstDisconnect: null, reconnected: null, recovered: null };
const notes = [];
let keySeq = 0;

function note(text) { if (notes.length < 10) notes.push(text); }

// The seqs one client has seen in one conversation: the highest with none missing below it.
class Seen {
  constructor() { this.above = new Set(); this.contiguous = 0; }
  add(seq) {
    if (seq > this.contiguous) this.above.add(seq);
    while (this.above.delete(this.contiguous + 1)) this.contiguous++;
  }
}

class Client {
  constructor(kind, auth) {
    this.kind = kind;              // "visitor" or "agent"
    this.auth = auth;
    this.token = null;             // a visitor's resume token, from `welcome`
    this.ready = false;            // welcomed on the current connection
    this.generation = 0;           // counts welcomes: an ack belongs to one connection
    this.welcomedAt = 0;
    this.outbox = new Map();       // key -> entry not yet acknowledged, in the order written
    this.seen = new Map();         // conversation id -> Seen
    this.conversationId = null;    // visitors
    this.conversations = [];       // agents
    this.agentIndex = 0;           // visitors: the agent that claimed the conversation
  }

  seenIn(id) {
    if (!this.seen.has(id)) this.seen.set(id, new Seen());
    return this.seen.get(id);
  }

  start() {
    const socket = this.socket = io(`${cfg.url}/${this.kind}`, {
      transports: ["websocket"], forceNew: true, timeout: 10000,
      reconnection: true, reconnectionDelay: 500, reconnectionDelayMax: 10000,
      randomizationFactor: 0.5,
      auth: (cb) => cb(this.token ? { ...this.auth, token: this.token } : this.auth),
    });
    socket.on("message", (m) => onMessage(this, m, true));
    socket.io.on("reconnect_attempt", () => counters.reconnect_attempts++);
    socket.on("disconnect", (reason) => {
      this.ready = false;
      socket.sendBuffer = [];  // as the widget: nothing replayed blindly, the outbox is resent
      counters.disconnects++;
      if (times.firstDisconnect === null) times.firstDisconnect = now();
      if (reason === "io server disconnect") setTimeout(() => socket.connect(), 1000);
    });
    return new Promise((resolve, reject) => {
      socket.on("welcome", (welcome) => {
        this.onWelcome(welcome).catch((err) => note(`welcome: ${err.stack || err}`));
        resolve();
      });
      socket.on("connect_error", (err) => {
        const code = err && err.data && err.data.code;
        if (!code) {  // no answer: socket.io-client tries again with its back-off
          if (err && err.message === "timeout") counters.connect_timeouts++;
          return;
        }
        counters.refused++;
        if (code === "unavailable") setTimeout(() => socket.connect(), 1000);  // a draining node
        else { note(`${this.kind} refused: ${code}`); reject(new Error(`refused: ${code}`)); }
      });
    });
  }

  async onWelcome(welcome) {
    this.ready = true;
    this.generation++;
    this.welcomedAt = now();
    if (this.kind === "visitor") this.token = welcome.token;
    if (this.generation === 1) return;
    counters.reconnects++;
    // First the outbox, in order, with the same client_ids; then what was missed.
    for (const entry of [...this.outbox.values()]) {
      if (entry.attempts > 0) counters.resent++;
      this.send(entry);
    }
    if (this.kind === "visitor") {
      const c = welcome.conversation;
      if (!c) { note("resumed without a conversation"); return; }
      for (const m of c.messages) onMessage(this, m, false);
      await this.catchUp(c.id);
    } else {
      for (const id of this.conversations) await this.catchUp(id);
    }
  }

  async catchUp(id) {
    const seen = this.seenIn(id);
    for (;;) {
      const payload = this.kind === "visitor" ? { after_seq: seen.contiguous }
        : { conversation_id: id, after_seq: seen.contiguous };
      counters.history_calls++;
      const ack = await this.call("history", payload);
      if (!ack) return;  // dropped again: the next welcome catches up
      const before = seen.contiguous;
      for (const m of ack.messages) onMessage(this, m, false);
      if (!ack.messages.length || seen.contiguous === before) return;
    }
  }

  call(event, payload) {
    return new Promise((resolve) => {
      if (!this.ready) return resolve(null);
      this.socket.timeout(ACK_MS).emit(event, payload, (err, ack) => {
        if (err || !ack) return resolve(null);
        if (!ack.ok && ack.error.code !== "unavailable") {
          counters.errors++;
          note(`${event}: ${JSON.stringify(ack.error)}`);
        }
        resolve(ack.ok ? ack : null);
      });
    });
  }

  send(entry) {
    if (!this.ready || !this.socket.connected) return;  // resent after the next welcome
    entry.attempts++;
    counters.attempts++;
    const generation = this.generation;
    const sameConnection = () => this.ready && this.socket.connected
      && this.generation === generation;
    this.socket.timeout(ACK_MS).emit("message", entry.payload, (err, ack) => {
      if (entry.acked || entry.failed) return;
      if (err) {
        // Dropped with the connection: resent after the next welcome. No answer in time on a
        // live connection: resent now (the widget offers "retry").
        if (sameConnection()) {
          counters.resent++;
          counters.resent_timeout++;
          this.send(entry);
        }
        return;
      }
      if (ack.ok) return onAck(this, entry, ack);
      if (ack.error.code === "unavailable") {
        // A draining node refuses events; after the reconnect the outbox is resent.
        counters.unavailable++;
        setTimeout(() => {
          if (!entry.acked && sameConnection()) { counters.resent++; this.send(entry); }
        }, 500);
        return;
      }
      entry.failed = true;
      this.outbox.delete(entry.key);
      counters.failed++;
      note(`message: ${JSON.stringify(ack.error)}`);
    });
  }
}

function onAck(client, entry, ack) {
  entry.acked = true;
  entry.ackAt = now();
  client.outbox.delete(entry.key);
  counters.acked++;
  const m = ack.message;
  if (!m || typeof m.text !== "string" || !m.text.startsWith(entry.key + " ")) {
    counters.mismatched++;
    note(`ack for ${entry.key} carries another message`);
  } else client.seenIn(m.conversation_id).add(m.seq);
}

// A message event (live) or a message from `welcome` or `history` (not live).
function onMessage(client, m, live) {
  if (!m || typeof m.seq !== "number") return;
  client.seenIn(m.conversation_id).add(m.seq);
  const text = m.text;
  if (typeof text !== "string" || text[0] !== "k") return;
  const entry = messages.get(text.slice(0, text.indexOf(" ")));
  if (!entry || entry.dir !== (client.kind === "visitor" ? "a2v" : "v2a")) return;
  if (entry.deliveredAt !== null) {
    if (live && entry.deliveredLive) counters.redelivered++;  // the same event twice
    entry.deliveredLive ||= live;
    return;
  }
  entry.deliveredAt = now();
  entry.deliveredLive = live;
  if (live) counters.delivered_live++;
  else counters.delivered_history++;
}

function write() {
  const v = visitors[Math.floor(Math.random() * visitors.length)];
  const dir = Math.random() < 0.5 ? "v2a" : "a2v";
  const key = `k${++keySeq}`;
  const sender = dir === "v2a" ? v : agents[v.agentIndex];
  const payload = dir === "v2a" ? { client_id: key, text: key + FILLER }
    : { conversation_id: v.conversationId, client_id: key, text: key + FILLER };
  const entry = { key, dir, payload, t0: now(), attempts: 0, acked: false, failed: false,
                  ackAt: null, deliveredAt: null, deliveredLive: false };
  messages.set(key, entry);
  sender.outbox.set(key, entry);
  counters.sent++;
  sender.send(entry);
}

// Recovered: every client welcomed again after the signal, and every message written before
// that acknowledged.
function watchRecovery() {
  if (times.signal === null || times.recovered !== null) return;
  if (times.reconnected === null) {
    if (times.up === null || !clients.every((c) => c.ready && c.welcomedAt > times.signal)) return;
    times.reconnected = now();
  }
  for (const c of clients) {
    const first = c.outbox.values().next().value;
    if (first && first.t0 <= times.reconnected) return;
  }
  times.recovered = now();
}

function phase() {
  if (times.signal === null) return "before";
  if (times.up === null) return "down";
  return times.recovered === null ? "reconnect" : "after";
}

function report(label, t, total) {
  const waiting = clients.reduce((n, c) => n + c.outbox.size, 0);
  const online = clients.reduce((n, c) => n + (c.ready ? 1 : 0), 0);
  out({ type: "progress", phase: label, done: Math.round(t * 10) / 10, total,
        extra: `ack ${counters.acked}/${counters.sent} resent ${counters.resent} `
          + `wait ${waiting} on ${online}/${clients.length}` });
}

async function drive() {
  const start = now();
  let written = 0, lastReport = 0, lastWatch = 0, marked = false;
  for (;;) {
    const t = Math.min((now() - start) / 1000, cfg.seconds);
    while (written < Math.floor(cfg.rate * t)) { write(); written++; }
    if (!marked && t >= cfg.restartAt) {
      marked = true;
      out({ type: "mark", name: "restart" });
    }
    if (t - lastWatch >= 0.1) { lastWatch = t; watchRecovery(); }
    if (t >= cfg.seconds) break;
    if (t - lastReport >= 0.5) { lastReport = t; report(phase(), t, cfg.seconds); }
    await sleep(5);
  }
}

// Until every message is acknowledged and delivered, and the restart is over.
async function drain() {
  const start = now();
  const undelivered = () => {
    let n = 0;
    for (const e of messages.values()) if (e.acked && e.deliveredAt === null) n++;
    return n;
  };
  while ((now() - start) / 1000 < cfg.drainSeconds) {
    watchRecovery();
    const waiting = clients.some((c) => c.outbox.size > 0);
    if (!waiting && times.recovered !== null && undelivered() === 0) break;
    report("drain", (now() - start) / 1000, cfg.drainSeconds);
    await sleep(100);
  }
}

async function setup() {
  for (let i = 0; i < cfg.agents; i++) {
    clients.push(agents[i] = new Client("agent", { api_token: cfg.agentTokens[i] }));
  }
  await pool(cfg.agents, 10, (i) => agents[i].start());
  for (let i = 0; i < cfg.visitors; i++) {
    const v = visitors[i] = new Client("visitor", { notice_version: cfg.noticeVersion, lang: "en" });
    v.agentIndex = i % cfg.agents;
    clients.push(v);
  }
  await pool(cfg.visitors, cfg.concurrency, async (i) => {
    const v = visitors[i], agent = agents[v.agentIndex];
    await v.start();
    const opened = await v.call("message", { client_id: `open-${i}`, text: "hello" });
    if (!opened) throw new Error("opening a conversation failed");
    v.conversationId = opened.message.conversation_id;
    v.seenIn(v.conversationId).add(opened.message.seq);
    const claimed = await agent.call("claim", { conversation_id: v.conversationId });
    if (!claimed) throw new Error("claiming a conversation failed");
    agent.conversations.push(v.conversationId);
    for (const m of claimed.conversation.messages) onMessage(agent, m, false);
  }, (done) => {
    if (done % 50 === 0 || done === cfg.visitors) {
      out({ type: "progress", phase: "connect", done, total: cfg.visitors });
    }
  });
}

function results() {
  const phaseOf = (t) => (times.signal === null || t < times.signal ? "before"
    : times.recovered === null || t < times.recovered ? "during" : "after");
  const lat = {};
  for (const p of ["before", "during", "after"]) lat[p] = { ack: [], delivery: [] };
  const acked = [];
  let unacked = 0, undelivered = 0;
  for (const e of messages.values()) {
    const p = lat[phaseOf(e.t0)];
    if (e.acked) { acked.push(e.key); p.ack.push(e.ackAt - e.t0); } else if (!e.failed) unacked++;
    if (e.deliveredAt !== null) p.delivery.push(e.deliveredAt - e.t0);
    else if (e.acked) undelivered++;
  }
  const since = (t) => (t === null || times.signal === null ? null : (t - times.signal) / 1000);
  const latency = {};
  for (const [p, v] of Object.entries(lat)) latency[p] = { ack: summary(v.ack), delivery: summary(v.delivery) };
  return {
    ...counters, unacked, undelivered, latency, notes,
    first_disconnect_s: since(times.firstDisconnect), up_s: since(times.up),
    reconnected_s: since(times.reconnected), recovery_s: since(times.recovered),
    acked_keys: acked,
  };
}

async function main() {
  createInterface({ input: process.stdin }).on("line", (line) => {
    const { event } = JSON.parse(line);
    if (event === "stopping") times.signal = now();
    else if (event === "up") times.up = now();
  });
  const started = now();
  try {
    await setup();
    out({ type: "mark", name: "measure_start", connections: clients.length });
    await drive();
    await drain();
    out({ type: "mark", name: "measure_end" });
  } catch (err) {
    out({ type: "fatal", message: String(err.stack || err) });
    process.exit(2);
  }
  out({ type: "result", scenario: "steady-restart", ...results(),
        wall_seconds: (now() - started) / 1000 });
  for (const c of clients) { c.socket.io.reconnection(false); c.socket.disconnect(); }
  setTimeout(() => process.exit(0), 200);
}

main();
