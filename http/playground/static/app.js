// Armistice playground: one page, no framework. It reads a request's event
// stream with fetch (EventSource cannot send an Authorization header) and
// resumes a dropped stream itself with Last-Event-ID.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let main = null;   // the Viewer of the current request
  let second = null; // the second viewer, when opened
  let started = 0;   // when the current request was submitted (ms)

  function headers(more) {
    const h = Object.assign({}, more);
    const key = $("key").value.trim();
    if (key) h.Authorization = "Bearer " + key;
    return h;
  }

  async function errorOf(res) {
    try {
      const e = (await res.json()).error;
      if (e) return `${res.status} ${e.code}: ${e.message}`;
    } catch (_) { /* not the API's error shape */ }
    return `${res.status} ${res.statusText}`;
  }

  async function api(method, path, body) {
    const init = { method, headers: headers(body ? { "Content-Type": "application/json" } : {}) };
    if (body) init.body = JSON.stringify(body);
    const res = await fetch(path, init);
    if (!res.ok) throw new Error(await errorOf(res));
    return res.json();
  }

  function showError(msg) {
    $("error").hidden = !msg;
    $("error").textContent = msg || "";
  }

  function note(text, cls) {
    const li = document.createElement("li");
    const t = document.createElement("span");
    t.className = "t";
    t.textContent = "+" + ((performance.now() - started) / 1000).toFixed(2) + "s";
    li.append(t, text);
    if (cls) li.className = cls;
    $("timeline").append(li);
    $("timeline").scrollTop = $("timeline").scrollHeight;
  }

  // Viewer is one subscriber: it reads the request's log from lastSeq on,
  // checks that seqs arrive each once and in order, and reconnects with
  // Last-Event-ID when the connection drops.
  class Viewer {
    constructor(id, ui) {
      Object.assign(this, { id, ui, lastSeq: 0, text: "", records: 0, reconnects: 0, gaps: 0, repeats: 0 });
      this.end = null;
      this.ctrl = null;
      this.dropped = 0; // seq at which the user dropped the connection, or 0
      this.closed = false;
    }

    drop() {
      if (!this.ctrl || this.end) return;
      this.dropped = this.lastSeq;
      this.ui.note(`connection dropped after #${this.lastSeq}`, "note");
      this.ctrl.abort();
    }

    close() {
      this.closed = true;
      if (this.ctrl) this.ctrl.abort();
    }

    async run() {
      for (let failures = 0; !this.end && !this.closed;) {
        const before = this.records;
        let wait = 0;
        this.ctrl = new AbortController();
        try {
          const h = headers({ Accept: "text/event-stream" });
          if (this.lastSeq > 0) h["Last-Event-ID"] = String(this.lastSeq);
          const res = await fetch(`/v1/requests/${encodeURIComponent(this.id)}/events`,
            { headers: h, signal: this.ctrl.signal, cache: "no-store" });
          if (res.status === 204) {
            await this.endFromSnapshot();
            return;
          }
          if (!res.ok) {
            const msg = await errorOf(res);
            if (res.status !== 429 && res.status < 500) {
              this.ui.fail(msg);
              return;
            }
            wait = 1000 * (Number(res.headers.get("Retry-After")) || 0);
            throw new Error(msg);
          }
          await this.read(res.body.getReader());
        } catch (e) {
          if (this.closed) return;
          if (!this.dropped) this.ui.note(`stream broken after #${this.lastSeq}: ${e.message || e}`, "note");
        }
        if (this.end || this.closed) return;
        failures = this.records > before ? 1 : failures + 1;
        if (failures > 10) {
          this.ui.fail("gave up after 10 failed attempts");
          return;
        }
        this.reconnects++;
        this.ui.stats(this);
        if (!this.dropped) await sleep(wait || Math.min(100 * 2 ** (failures - 1), 5000));
        this.ui.note(`reconnecting with Last-Event-ID: ${this.lastSeq}`, "note");
      }
    }

    async read(reader) {
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended before its end event");
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          this.event(block);
          if (this.end) {
            this.ctrl.abort(); // the server closes too; do not wait for it
            return;
          }
        }
      }
    }

    // event handles one SSE block: id, event and data lines.
    event(block) {
      let name = "message", id = "", data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // a heartbeat
        const c = line.indexOf(":");
        const field = c < 0 ? line : line.slice(0, c);
        const value = c < 0 ? "" : line.slice(c + 1).replace(/^ /, "");
        if (field === "id") id = value;
        else if (field === "event") name = value;
        else if (field === "data") data.push(value);
      }
      if (!data.length) return;
      const d = JSON.parse(data.join("\n"));
      if (name === "error") throw new Error("the server reported: " + ((d.error && d.error.message) || data));
      const seq = d.seq || Number(id);
      if (seq <= this.lastSeq) {
        this.repeats++; // never expected: the server resumes after the cursor
        this.ui.stats(this);
        return;
      }
      if (seq !== this.lastSeq + 1) this.gaps += seq - this.lastSeq - 1;
      if (this.dropped) {
        this.ui.note(`resumed at #${seq} after #${this.dropped}: ` +
          (seq === this.dropped + 1 ? "nothing lost, nothing repeated" : "records missing!"), "note");
        this.dropped = 0;
      }
      this.lastSeq = seq;
      this.records++;
      switch (name) {
        case "state":
          this.ui.state(d.state, this);
          break;
        case "token":
          this.text += d.text;
          this.ui.text(this.text);
          break;
        case "end":
          this.end = d;
          this.ui.end(d, this);
          break;
        default: // kinds this page does not know (reasoning, tool_call, ...)
          this.ui.other(name, d, this);
      }
      this.ui.stats(this);
    }

    async endFromSnapshot() {
      const s = await api("GET", `/v1/requests/${encodeURIComponent(this.id)}`);
      this.end = { seq: s.last_seq, state: s.state, status: s.status, reason: s.reason, message: s.message, tokens: s.tokens };
      this.ui.end(this.end, this);
    }
  }

  const mainUI = {
    note,
    text(t) { $("answer").textContent = t; },
    state(s, v) {
      $("state").textContent = s;
      note(`#${v.lastSeq} state → ${s}`);
      if (s === "pending") watchQueue(v);
    },
    end(d, v) {
      $("state").textContent = d.state;
      $("status").textContent = `${d.status}/${d.reason}`;
      note(`#${d.seq} end: ${d.status}/${d.reason}, ${d.tokens} tokens` + (d.message ? ` (${d.message})` : ""), "end-" + d.status);
      $("cancel").disabled = $("drop").disabled = true;
      compareViewers();
    },
    other(name, d, v) { note(`#${v.lastSeq} ${name} event`); },
    stats(v) {
      $("last-seq").textContent = v.lastSeq;
      $("records").textContent = v.records;
      $("reconnects").textContent = v.reconnects;
      $("gaps").textContent = v.gaps;
      $("repeats").textContent = v.repeats;
    },
    fail(msg) { showError(msg); note("stream failed: " + msg, "end-failed"); },
  };

  const secondUI = {
    note() {},
    text(t) { $("viewer-answer").textContent = t; },
    state() {},
    end(d) {
      $("viewer-status").textContent = `${d.status}/${d.reason}`;
      compareViewers();
    },
    other() {},
    stats() {},
    fail(msg) { $("viewer-status").textContent = "failed: " + msg; },
  };

  function compareViewers() {
    if (main && second && main.end && second.end) {
      $("viewer-same").textContent = main.text === second.text ? "yes" : "no";
    }
  }

  // watchQueue shows the queue position while the request is pending.
  async function watchQueue(v) {
    let shown = -1;
    while (main === v && !v.end && $("state").textContent === "pending") {
      try {
        const s = await api("GET", `/v1/requests/${encodeURIComponent(v.id)}`);
        if (s.state !== "pending") return;
        const pos = s.queue_position || 0;
        if (pos !== shown) {
          note(pos ? `pending: queue position ${pos}` : "pending: waiting for a slot");
          shown = pos;
        }
      } catch (_) { return; }
      await sleep(500);
    }
  }

  function requestBody() {
    const body = { prompt: $("prompt").value };
    const extra = $("extra").value.trim();
    if (extra) {
      const more = JSON.parse(extra);
      if (typeof more !== "object" || more === null || Array.isArray(more)) throw new Error("More settings must be a JSON object");
      Object.assign(body, more);
    }
    if ($("model").value.trim()) body.model = $("model").value.trim();
    if ($("max-tokens").value) body.max_tokens = Number($("max-tokens").value);
    if ($("on-disconnect").value) body.on_disconnect = $("on-disconnect").value;
    return body;
  }

  $("submit").addEventListener("click", async () => {
    showError("");
    if (main) main.close();
    if (second) second.close();
    main = second = null;
    for (const id of ["answer", "viewer-answer", "timeline"]) $(id).textContent = "";
    for (const id of ["state", "status", "viewer-status", "viewer-same"]) $(id).textContent = "–";
    $("viewers").hidden = true;
    started = performance.now();
    let snap;
    try {
      const body = requestBody();
      note("submitting");
      snap = await api("POST", "/v1/requests", body);
    } catch (e) {
      showError(e.message);
      note("submit refused: " + e.message, "end-failed");
      return;
    }
    $("request-id").textContent = snap.id;
    note(`accepted: ${snap.state}` + (snap.queue_position ? `, queue position ${snap.queue_position}` : ""));
    $("cancel").disabled = $("drop").disabled = $("viewer").disabled = false;
    main = new Viewer(snap.id, mainUI);
    mainUI.stats(main);
    main.run();
  });

  $("cancel").addEventListener("click", async () => {
    if (!main) return;
    note("cancel sent");
    try {
      await api("POST", `/v1/requests/${encodeURIComponent(main.id)}/cancel`);
    } catch (e) {
      note("cancel: " + e.message, "note");
    }
  });

  $("drop").addEventListener("click", () => { if (main) main.drop(); });

  $("viewer").addEventListener("click", () => {
    if (!main) return;
    if (second) second.close();
    $("viewers").hidden = false;
    $("viewer-answer").textContent = "";
    $("viewer-status").textContent = $("viewer-same").textContent = "–";
    second = new Viewer(main.id, secondUI);
    note("second viewer attached");
    second.run();
  });
})();
