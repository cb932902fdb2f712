// Load generator for chatserver's benchmark: many socket.io-client connections in one Node
// process, driven open-loop (sends follow the clock, not the replies, so a slow server cannot
// slow the offered load down and hide its own latency). bench/run.py starts it with one JSON
// argument and reads one JSON object per line from stdout: progress, marks and the result.
//
// Latency is measured inside this one process (one clock): from the sender's emit to the
// counterpart's `message` event. A message is lost when its counterpart never receives it.
import { io } from "socket.io-client";
import { FILLER, now, out, pool, sleep, summary } from "./common.mjs";

const cfg = JSON.parse(process.argv[2]);

function connect(namespace, auth) {
  // forceNew: every client has its own engine.io connection, as separate browsers would.
  // WebSocket only, no polling first; `ws` offers per-message deflate like browsers do.
  const socket = io(cfg.url + namespace, {
    transports: ["websocket"], forceNew: true, reconnection: false, auth, timeout: 60000,
  });
  return new Promise((resolve, reject) => {
    socket.once("welcome", (welcome) => resolve({ socket, welcome }));
    socket.once("connect_error", (err) => reject(new Error(`${namespace}: ${err.message}`)));
  });
}

// --- the chat model: visitors, agents, conversations and in-flight messages ---------------
const agents = [];     // {socket}
const visitors = [];   // {socket, conversationId, agentIndex}
const pending = new Map();  // key -> {t0, dir, step}
const lat = { v2a: [], a2v: [], ack: [] };
const counters = { sent: 0, delivered: 0, duplicates: 0, errors: 0, disconnects: 0 };
let stepLatencies = null;  // per ramp step: {v2a: [], a2v: [], sent, delivered}
let keySeq = 0;

function onDelivered(message, dir) {
  const text = message && message.text;
  if (typeof text !== "string" || text[0] !== "k") return;
  const key = text.slice(0, text.indexOf(" "));
  const entry = pending.get(key);
  if (!entry) { counters.duplicates++; return; }
  if (entry.dir !== dir) return;
  pending.delete(key);
  const ms = now() - entry.t0;
  lat[dir].push(ms);
  counters.delivered++;
  if (stepLatencies && entry.step !== undefined) {
    stepLatencies[entry.step][dir].push(ms);
    stepLatencies[entry.step].delivered++;
  }
}

async function connectAgents() {
  await pool(cfg.agents, 10, async (i) => {
    // queue_version 2: the queue's changes come as `queue_update` deltas (docs/protocol.md).
    const { socket } = await connect("/agent", { api_token: cfg.agentTokens[i], queue_version: 2 });
    socket.on("message", (m) => onDelivered(m, "v2a"));
    socket.on("disconnect", () => counters.disconnects++);
    agents[i] = { socket };
  });
}

async function connectVisitors(count, concurrency, label) {
  const connectMs = [];
  await pool(count, concurrency, async (i) => {
    const t0 = now();
    const { socket } = await connect("/visitor", { notice_version: cfg.noticeVersion, lang: "en" });
    connectMs.push(now() - t0);
    socket.on("message", (m) => onDelivered(m, "a2v"));
    socket.on("disconnect", () => counters.disconnects++);
    visitors[i] = { socket, conversationId: null, agentIndex: i % cfg.agents };
  }, (done) => { if (done % 50 === 0 || done === count) out({ type: "progress", phase: label, done, total: count }); });
  return summary(connectMs);
}

function call(socket, event, payload) {
  return new Promise((resolve, reject) => {
    socket.timeout(60000).emit(event, payload, (err, ack) => {
      if (err) reject(new Error(`${event}: no ack`));
      else if (!ack || !ack.ok) reject(new Error(`${event}: ${JSON.stringify(ack && ack.error)}`));
      else resolve(ack);
    });
  });
}

// The visitor's first message opens a conversation; its agent claims it at once.
async function openAndClaim(i) {
  const v = visitors[i];
  const opened = await call(v.socket, "message", { client_id: `open-${i}`, text: "hello" });
  v.conversationId = opened.message.conversation_id;
  await call(agents[v.agentIndex].socket, "claim", { conversation_id: v.conversationId });
}

function sendOne(step) {
  const v = visitors[Math.floor(Math.random() * visitors.length)];
  const dir = Math.random() < 0.5 ? "v2a" : "a2v";
  const key = `k${++keySeq}`;
  const text = key + FILLER;
  const t0 = now();
  pending.set(key, { t0, dir, step });
  counters.sent++;
  if (stepLatencies && step !== undefined) stepLatencies[step].sent++;
  const socket = dir === "v2a" ? v.socket : agents[v.agentIndex].socket;
  const payload = dir === "v2a" ? { client_id: key, text }
    : { conversation_id: v.conversationId, client_id: key, text };
  socket.timeout(30000).emit("message", payload, (err, ack) => {
    if (err || !ack || !ack.ok) counters.errors++;
    else lat.ack.push(now() - t0);
  });
}

// Open loop: every tick sends as many messages as the schedule says are due by now.
async function drive(rateAt, seconds, onTick) {
  const start = now();
  let due = 0, sentHere = 0, lastReport = 0, lastT = 0;
  while (true) {
    const t = Math.min((now() - start) / 1000, seconds);
    const { rate, step } = rateAt(t);
    due += rate * (t - lastT);  // by the clock, however late this tick is
    lastT = t;
    while (sentHere < Math.floor(due)) { sendOne(step); sentHere++; }
    if (t >= seconds || stopRamp) break;
    if (t - lastReport >= 0.5) {
      lastReport = t;
      out({ type: "progress", phase: "messages", done: Math.round(t * 10) / 10, total: seconds,
            rate, sent: counters.sent, delivered: counters.delivered, pending: pending.size });
      if (onTick) onTick(t);
    }
    await sleep(5);
  }
}

async function drain(maxSeconds) {
  const until = now() + maxSeconds * 1000;
  while (pending.size > 0 && now() < until) await sleep(50);
}

function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function lostAfterDrain() { return pending.size; }

let stopRamp = false;

async function steady() {
  const setup0 = now();
  await connectAgents();
  const connect = await connectVisitors(cfg.visitors, cfg.concurrency, "connect");
  const setupConnect = (now() - setup0) / 1000;
  let opened = 0;
  await pool(cfg.visitors, cfg.concurrency, openAndClaim, (d) => {
    opened = d;
    if (d % 50 === 0 || d === cfg.visitors) out({ type: "progress", phase: "open+claim", done: d, total: cfg.visitors });
  });
  const setupSeconds = { connect: setupConnect, open_claim: (now() - setup0) / 1000 - setupConnect };
  out({ type: "mark", name: "measure_start", connections: cfg.visitors + cfg.agents });
  const cpu0 = cpuSeconds(), t0 = now();
  await drive(() => ({ rate: cfg.rate }), cfg.seconds);
  const seconds = (now() - t0) / 1000;
  await drain(cfg.drainSeconds);
  out({ type: "mark", name: "measure_end" });
  return {
    connect, opened, seconds, offered_rate: cfg.rate, setup_seconds: setupSeconds,
    achieved_rate: counters.delivered / seconds,
    generator_cpu: (cpuSeconds() - cpu0) / ((now() - t0) / 1000),
  };
}

async function ramp() {
  await connectAgents();
  await connectVisitors(cfg.visitors, cfg.concurrency, "connect");
  await pool(cfg.visitors, cfg.concurrency, openAndClaim, (d) => {
    if (d % 50 === 0 || d === cfg.visitors) out({ type: "progress", phase: "open+claim", done: d, total: cfg.visitors });
  });
  // A short warm-up at the first rate, not judged: set-up garbage is collected here.
  await drive(() => ({ rate: cfg.rampStart }), cfg.rampWarmupSeconds || 0);
  out({ type: "mark", name: "measure_start", connections: cfg.visitors + cfg.agents });
  stepLatencies = [];
  const steps = [];
  const cpu0 = cpuSeconds(), t0 = now();
  const evaluate = (s, rate) => {
    // Messages still in flight count with their age so far (a lower bound on their latency).
    const ages = [];
    const tNow = now();
    for (const entry of pending.values()) if (entry.step === s) ages.push(tNow - entry.t0);
    const all = [...stepLatencies[s].v2a, ...stepLatencies[s].a2v, ...ages];
    const result = { offered_rate: rate, ...summary(all), in_flight: ages.length,
                     sent: stepLatencies[s].sent,
                     v2a: summary(stepLatencies[s].v2a), a2v: summary(stepLatencies[s].a2v) };
    result.sustained = result.p99 !== null && result.p99 <= cfg.p99LimitMs;
    steps.push(result);
    out({ type: "step", ...result });
    return result.sustained;
  };
  // Each step runs, then the same load goes on for half a second while its last messages land
  // and it is judged. A step that fails is tried once more (one collector pause or a neighbour's
  // burst of work should not end the ramp); the ramp ends at the second failure in a row.
  let rate = cfg.rampStart, failures = 0;
  for (let s = 0; s < cfg.rampMaxSteps; s++) {
    stepLatencies[s] = { v2a: [], a2v: [], sent: 0, delivered: 0 };
    await drive(() => ({ rate, step: s }), cfg.rampStepSeconds);
    await drive(() => ({ rate }), 0.5);
    if (evaluate(s, rate)) { failures = 0; rate += cfg.rampStep; }
    else if (++failures >= 2) { stopRamp = true; break; }
  }
  const seconds = (now() - t0) / 1000;
  stopRamp = false;
  await drain(cfg.drainSeconds);
  out({ type: "mark", name: "measure_end" });
  const passed = steps.filter((s) => s.sustained).map((s) => s.offered_rate);
  return { steps, highest_sustained_rate: passed.length ? Math.max(...passed) : 0, seconds,
           generator_cpu: (cpuSeconds() - cpu0) / seconds, reached_limit: failures >= 2 };
}

async function idle() {
  if (cfg.agents > 0) await connectAgents();  // online agents: presence rows and heartbeats
  const connect = await connectVisitors(cfg.visitors, cfg.concurrency, "connect");
  out({ type: "mark", name: "held", connections: cfg.visitors });
  const start = now();
  while (now() - start < cfg.holdSeconds * 1000) {
    out({ type: "progress", phase: "hold", done: Math.round((now() - start) / 100) / 10, total: cfg.holdSeconds });
    await sleep(500);
  }
  out({ type: "mark", name: "hold_end" });
  const alive = visitors.filter((v) => v.socket.connected).length;
  return { connect, held: alive, dropped: cfg.visitors - alive };
}

// Visitors connect spread over one second and send their first message as soon as they are
// welcomed; agents see it in a `queue_update` event, claim it and answer.
async function burst() {
  await connectAgents();
  const firstSeen = new Map();   // conversation id -> time an agent first saw it queued
  const waiting = new Map();     // conversation id -> resolve(time), for visitors waiting on it
  const opened = new Map();      // conversation id -> visitor index
  const v2aMs = [], connectMs = [], ackMs = [], a2vMs = [];
  const sawQueued = (conversations) => {
    const t = now();
    for (const c of conversations) {
      if (firstSeen.has(c.id)) continue;
      firstSeen.set(c.id, t);
      const resolve = waiting.get(c.id);
      if (resolve) { waiting.delete(c.id); resolve(t); }
    }
  };
  agents[0].socket.on("queue", ({ conversations }) => sawQueued(conversations));
  agents[0].socket.on("queue_update", ({ added }) => sawQueued(added));
  const seen = (id) => firstSeen.has(id) ? Promise.resolve(firstSeen.get(id))
    : new Promise((resolve) => waiting.set(id, resolve));
  out({ type: "mark", name: "measure_start", connections: cfg.visitors + cfg.agents });
  const cpu0 = cpuSeconds(), t0 = now();
  let done = 0;
  await Promise.all(Array.from({ length: cfg.visitors }, async (_, i) => {
    await sleep((i / cfg.visitors) * cfg.burstSeconds * 1000);
    const start = now();
    try {
      const { socket } = await connect("/visitor", { notice_version: cfg.noticeVersion, lang: "en" });
      connectMs.push(now() - start);
      const v = { socket, conversationId: null, agentIndex: i % cfg.agents };
      visitors[i] = v;
      const sent = now();
      const replied = new Promise((resolve) => socket.on("message", (m) => {
        if (m.text && m.text.startsWith("reply")) resolve(now());
      }));
      const ack = await call(socket, "message", { client_id: "first", text: "k-first" + FILLER });
      ackMs.push(now() - sent);
      v.conversationId = ack.message.conversation_id;
      opened.set(v.conversationId, i);
      v2aMs.push(await seen(v.conversationId) - sent);
      await call(agents[v.agentIndex].socket, "claim", { conversation_id: v.conversationId });
      const replySent = now();
      call(agents[v.agentIndex].socket, "message",
           { conversation_id: v.conversationId, client_id: `r${i}`, text: "reply" + FILLER })
        .catch(() => counters.errors++);
      const got = await Promise.race([replied, sleep(cfg.drainSeconds * 1000).then(() => null)]);
      if (got === null) counters.lostReplies = (counters.lostReplies || 0) + 1;
      else a2vMs.push(got - replySent);
    } catch (err) {
      counters.errors++;
      out({ type: "error", message: String(err.message || err) });
    }
    done++;
    if (done % 20 === 0 || done === cfg.visitors) out({ type: "progress", phase: "burst", done, total: cfg.visitors });
  }));
  out({ type: "mark", name: "measure_end" });
  const seconds = (now() - t0) / 1000;
  lat.v2a = v2aMs; lat.a2v = a2vMs;
  counters.sent = cfg.visitors * 2;
  counters.delivered = v2aMs.length + a2vMs.length;
  return { connect: summary(connectMs), first_ack: summary(ackMs), seconds,
           generator_cpu: (cpuSeconds() - cpu0) / seconds };
}

async function main() {
  const scenarios = { steady, ramp, idle, burst };
  const started = now();
  let detail;
  try {
    detail = await scenarios[cfg.scenario]();
  } catch (err) {
    out({ type: "fatal", message: String(err.stack || err) });
    process.exit(2);
  }
  const lost = cfg.scenario === "burst" ? counters.sent - counters.delivered : lostAfterDrain();
  out({
    type: "result", scenario: cfg.scenario, ...detail,
    sent: counters.sent, delivered: counters.delivered, lost, errors: counters.errors,
    duplicates: counters.duplicates, disconnects: counters.disconnects,
    v2a: summary(lat.v2a), a2v: summary(lat.a2v), ack: summary(lat.ack),
    wall_seconds: (now() - started) / 1000,
  });
  for (const v of visitors) if (v) v.socket.disconnect();
  for (const a of agents) if (a) a.socket.disconnect();
  setTimeout(() => process.exit(0), 200);
}

main();
