// SPDX-License-Identifier: Apache-2.0
// An independent check of a Zipkin v2 JSON body (POST /api/v2/spans):
//  1. every span follows the zipkin2 API's Span model (the published
//     zipkin2-api spec): field names, hex id forms, integer microsecond
//     timestamp and duration >= 1, string tag values, no unknown fields;
//  2. the span rebuilt through the zipkin npm package's own model
//     (model.Span, TraceId, Endpoint) and encoded by its JSON_V2 encoder is
//     the same JSON, except that zipkin-js lowercases names and service
//     names, which kernspan leaves as the program gave them.
// Prints {"spans":N,"ids":[...]} and exits 0, or names the problem and
// exits 1.
//   node zipkin_v2.js FILE
'use strict';
const fs = require('fs');
const assert = require('assert');
const zipkin = require('zipkin');

function fail(msg) {
  process.stderr.write('zipkin_v2: ' + msg + '\n');
  process.exit(1);
}

let spans;
try {
  spans = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
} catch (e) {
  fail('not valid JSON: ' + e.message);
}
if (!Array.isArray(spans)) {
  fail('the body must be a JSON array of spans');
}

const HEX16 = /^[0-9a-f]{16}$/;
const TRACE = /^([0-9a-f]{16}){1,2}$/;
const FIELDS = new Set(['traceId', 'name', 'parentId', 'id', 'kind', 'timestamp', 'duration',
  'debug', 'shared', 'localEndpoint', 'remoteEndpoint', 'annotations', 'tags']);
const KINDS = new Set(['CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER']);
const isMicros = (v) => Number.isSafeInteger(v) && v > 0;

function checkEndpoint(ep, where) {
  if (typeof ep !== 'object' || ep === null) {
    fail(where + ': endpoint must be an object');
  }
  for (const k of Object.keys(ep)) {
    if (!['serviceName', 'ipv4', 'ipv6', 'port'].includes(k)) {
      fail(where + ': unknown endpoint field ' + k);
    }
  }
  if ('serviceName' in ep && typeof ep.serviceName !== 'string') {
    fail(where + ': serviceName must be a string');
  }
}

function check(s, where) {
  for (const k of Object.keys(s)) {
    if (!FIELDS.has(k)) {
      fail(where + ': unknown field ' + k);
    }
  }
  if (typeof s.traceId !== 'string' || !TRACE.test(s.traceId)) {
    fail(where + ': traceId must be 16 or 32 lowercase hex');
  }
  if (typeof s.id !== 'string' || !HEX16.test(s.id)) {
    fail(where + ': id must be 16 lowercase hex');
  }
  if ('parentId' in s && (!HEX16.test(s.parentId) || s.parentId === s.id)) {
    fail(where + ': parentId must be 16 lowercase hex, not the span\'s own id');
  }
  if ('name' in s && typeof s.name !== 'string') {
    fail(where + ': name must be a string');
  }
  if ('kind' in s && !KINDS.has(s.kind)) {
    fail(where + ': bad kind');
  }
  if ('timestamp' in s && !isMicros(s.timestamp)) {
    fail(where + ': timestamp must be positive integer epoch microseconds');
  }
  if ('duration' in s && !(Number.isSafeInteger(s.duration) && s.duration >= 1)) {
    fail(where + ': duration must be an integer >= 1');
  }
  for (const k of ['debug', 'shared']) {
    if (k in s && typeof s[k] !== 'boolean') {
      fail(where + ': ' + k + ' must be a boolean');
    }
  }
  for (const k of ['localEndpoint', 'remoteEndpoint']) {
    if (k in s) {
      checkEndpoint(s[k], where + ' ' + k);
    }
  }
  if ('tags' in s) {
    if (typeof s.tags !== 'object' || Array.isArray(s.tags)) {
      fail(where + ': tags must be an object');
    }
    for (const [k, v] of Object.entries(s.tags)) {
      if (typeof v !== 'string') {
        fail(where + ': tag ' + k + ' must be a string');
      }
    }
  }
}

// The same span through zipkin-js's model and JSON_V2 encoder.
function viaZipkinJs(s) {
  const { Some, None } = zipkin.option;
  const id = new zipkin.TraceId({
    traceId: s.traceId,
    parentId: s.parentId ? new Some(s.parentId) : None,
    spanId: s.id,
  });
  const span = new zipkin.model.Span(id);
  span.setName(s.name);
  span.setTimestamp(s.timestamp);
  span.setDuration(s.duration);
  if (s.localEndpoint) {
    span.setLocalEndpoint(new zipkin.model.Endpoint(s.localEndpoint));
  }
  for (const [k, v] of Object.entries(s.tags || {})) {
    span.putTag(k, v);
  }
  return JSON.parse(zipkin.jsonEncoder.JSON_V2.encode(span));
}

spans.forEach((s, i) => {
  const where = 'span ' + i;
  check(s, where);
  const expected = JSON.parse(JSON.stringify(s));
  if (expected.name) {
    expected.name = expected.name.toLocaleLowerCase();
  }
  if (expected.localEndpoint && expected.localEndpoint.serviceName) {
    expected.localEndpoint.serviceName = expected.localEndpoint.serviceName.toLocaleLowerCase();
  }
  try {
    assert.deepStrictEqual(viaZipkinJs(s), expected);
  } catch (e) {
    fail(where + ': zipkin-js encodes it differently: ' + e.message);
  }
});
process.stdout.write(JSON.stringify({ spans: spans.length, ids: spans.map((s) => s.id) }) + '\n');
