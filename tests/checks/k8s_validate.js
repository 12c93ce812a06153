// SPDX-License-Identifier: Apache-2.0
// Validates Kubernetes manifests against the API's JSON schemas (the
// kubernetes-models package, an independent implementation of them), with
// no cluster: node k8s_validate.js FILE.yaml... Prints each object and exits
// 1 on the first invalid one or on a kind it does not know.
'use strict';
const fs = require('fs');
const YAML = require('yaml');

function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const tries = [];
  if (group === '') {
    tries.push(`kubernetes-models/${version}/${kind}`);
  } else if (group === 'monitoring.coreos.com') {
    tries.push(`@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`);
  } else {
    tries.push(`kubernetes-models/${group}/${version}/${kind}`);
  }
  for (const t of tries) {
    try {
      return require(t)[kind];
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  throw new Error(`no schema for ${apiVersion} ${kind}`);
}

let n = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
    const obj = doc.toJSON();
    if (obj === null) continue;
    const Model = modelFor(obj.apiVersion, obj.kind);
    try {
      new Model(obj).validate();
    } catch (e) {
      console.error(`${file}: ${obj.kind} ${obj.metadata && obj.metadata.name}: ${e.message}`);
      process.exit(1);
    }
    console.log(`${file}: ${obj.apiVersion} ${obj.kind} ${obj.metadata.name}: valid`);
    n++;
  }
}
if (n === 0) {
  console.error('no objects found');
  process.exit(1);
}
