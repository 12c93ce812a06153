// SPDX-License-Identifier: Apache-2.0
// Decodes an OTLP ExportTraceServiceRequest body with the official
// OpenTelemetry JS package's generated protobuf code (not kernspan's .proto)
// and prints it as JSON with ids in hex and 64-bit integers as strings.
//   node decode.js protobuf|json FILE      (gzip bodies are detected)
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const [encoding, file] = process.argv.slice(2);
let body = fs.readFileSync(file);
if (body[0] === 0x1f && body[1] === 0x8b) {
  body = zlib.gunzipSync(body);
}

const ID_KEYS = new Set(['traceId', 'spanId', 'parentSpanId']);
function walk(value, fn) {
  if (Array.isArray(value)) {
    value.forEach((v) => walk(v, fn));
  } else if (value && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      value[k] = fn(k, value[k]);
      walk(value[k], fn);
    }
  }
}

let message;
if (encoding === 'protobuf') {
  message = Request.decode(body);
} else if (encoding === 'json') {
  // OTLP/JSON differs from protobuf's JSON mapping only in hex ids.
  const object = JSON.parse(body.toString('utf8'));
  walk(object, (k, v) => (ID_KEYS.has(k) ? Buffer.from(v, 'hex') : v));
  const problem = Request.verify(Request.fromObject(object));
  if (problem) {
    throw new Error('invalid request: ' + problem);
  }
  message = Request.fromObject(object);
} else {
  throw new Error('usage: node decode.js protobuf|json FILE');
}
const out = Request.toObject(message, { longs: String, enums: Number, bytes: String });
walk(out, (k, v) => (ID_KEYS.has(k) ? Buffer.from(v, 'base64').toString('hex') : v));
process.stdout.write(JSON.stringify(out) + '\n');
