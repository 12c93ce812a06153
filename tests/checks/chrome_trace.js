// SPDX-License-Identifier: Apache-2.0
// An independent reader of kernspan's Chrome Trace Event files: parses the
// file with JSON.parse (the whole file: it must be one valid JSON value) and
// checks each event against the Trace Event Format's rules for the kinds
// kernspan writes. Prints a summary as JSON; exits 1 on the first problem.
//   node chrome_trace.js FILE
'use strict';
const fs = require('fs');

function fail(msg) {
  process.stderr.write('chrome_trace: ' + msg + '\n');
  process.exit(1);
}

const text = fs.readFileSync(process.argv[2], 'utf8');
let doc;
try {
  doc = JSON.parse(text);
} catch (e) {
  fail('not valid JSON: ' + e.message);
}
if (!doc || typeof doc !== 'object' || !Array.isArray(doc.traceEvents)) {
  fail('expected an object with a traceEvents array');
}

const isInt = (v) => Number.isInteger(v) && v >= 0;
const threadNames = new Map(); // "pid/tid" -> name
const processNames = new Map();
const complete = [];
doc.traceEvents.forEach((e, i) => {
  const where = 'event ' + i + ' ' + JSON.stringify(e);
  if (typeof e !== 'object' || typeof e.ph !== 'string' || typeof e.name !== 'string') {
    fail(where + ': needs ph and name');
  }
  if (!isInt(e.pid)) {
    fail(where + ': pid must be a non-negative integer');
  }
  if (e.ph === 'M') {
    if (typeof e.args !== 'object' || typeof e.args.name !== 'string') {
      fail(where + ': metadata needs args.name');
    }
    if (e.name === 'thread_name') {
      if (!isInt(e.tid)) {
        fail(where + ': thread_name needs a tid');
      }
      threadNames.set(e.pid + '/' + e.tid, e.args.name);
    } else if (e.name === 'process_name') {
      processNames.set(e.pid, e.args.name);
    } else {
      fail(where + ': unexpected metadata ' + e.name);
    }
  } else if (e.ph === 'X') {
    if (!isInt(e.tid) || typeof e.ts !== 'number' || typeof e.dur !== 'number' || e.dur < 0) {
      fail(where + ': complete events need tid, ts and dur >= 0');
    }
    if (typeof e.args !== 'object' || !/^[0-9a-f]{32}$/.test(e.args.trace_id) ||
        !/^[0-9a-f]{16}$/.test(e.args.span_id)) {
      fail(where + ': args need trace_id and span_id');
    }
    if (!threadNames.has(e.pid + '/' + e.tid) || !processNames.has(e.pid)) {
      fail(where + ': thread or process not named before its first span');
    }
    complete.push(e);
  } else {
    fail(where + ': unexpected phase ' + e.ph);
  }
});

// Spans on one thread must nest: a span that starts inside another ends
// inside it too (how a track shows them as a tree).
const byThread = new Map();
for (const e of complete) {
  const k = e.pid + '/' + e.tid;
  if (!byThread.has(k)) {
    byThread.set(k, []);
  }
  byThread.get(k).push(e);
}
let nested = 0;
for (const events of byThread.values()) {
  events.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const stack = [];
  for (const e of events) {
    while (stack.length && stack[stack.length - 1].ts + stack[stack.length - 1].dur <= e.ts) {
      stack.pop();
    }
    if (stack.length) {
      const p = stack[stack.length - 1];
      // 1 us of slack: ts and dur went through doubles
      if (e.ts + e.dur > p.ts + p.dur + 1) {
        fail('span ' + e.args.span_id + ' overlaps ' + p.args.span_id + ' without nesting');
      }
      nested++;
    }
    stack.push(e);
  }
}

const spans = complete.map((e) => ({
  name: e.name, span_id: e.args.span_id, trace_id: e.args.trace_id,
  parent_span_id: e.args.parent_span_id || '', pid: e.pid, tid: e.tid, ts: e.ts, dur: e.dur,
  costs: e.args.costs || null,
}));
process.stdout.write(JSON.stringify({
  events: doc.traceEvents.length, threads: threadNames.size, processes: processNames.size,
  nested, spans,
}) + '\n');
