#!/usr/bin/env node
/*
 * make_fixtures.js: KPL aggregated records made by the official
 * aws-kinesis-agg library (4.x), for tests/unit/test_kpl.c. For each case
 * writes fixtures/NAME.bin (one aggregated Kinesis record payload) and
 * fixtures/NAME.json (the user records it must decode to: pk, ehk, data
 * in base64). Deterministic: re-running gives the same files.
 *
 *   npm install --prefix build/npm aws-kinesis-agg@4
 *   NODE_PATH=build/npm/node_modules node tests/kpl/make_fixtures.js
 */
'use strict';

const fs = require('fs');
const path = require('path');
const agg = require('aws-kinesis-agg');

const outdir = path.join(__dirname, 'fixtures');

/* A small deterministic generator (no Math.random). */
function lcg(seed) {
	let s = seed >>> 0;
	return () => {
		s = (Math.imul(s, 1103515245) + 12345) >>> 0;
		return s >>> 16;
	};
}

function bytes(n, seed) {
	const r = lcg(seed);
	const b = Buffer.alloc(n);
	for (let i = 0; i < n; i++)
		b[i] = r() & 0xff;
	return b;
}

/*
 * No key is integer-like ("42", "1"): aws-kinesis-agg builds its key
 * tables with Object.keys(), which lists integer-like keys first, so its
 * indexes would no longer match its tables (the self-check catches that).
 * Real explicit hash keys are 128-bit decimals, mostly too big to count.
 */
function ehk(k) {
	return (2n ** 100n + BigInt(k) * 7919n).toString();
}

const cases = {
	single: [
		{ partitionKey: 'only', data: Buffer.from('{"hello":"world"}') },
	],
	basic: [0, 1, 2, 3, 4].map((i) => ({
		partitionKey: 'user-' + 'abcde'[i],
		data: Buffer.from(JSON.stringify({ n: i, msg: 'event ' + i,
		    ok: i % 2 === 0, tags: ['a', 'b'] })),
	})),
	shared_keys: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => {
		const r = {
			partitionKey: ['k-red', 'k-green', 'k-blue'][i % 3],
			data: Buffer.from(JSON.stringify({ i: i, pretty: i }, null,
			    i % 2 ? 2 : 0)),
		};
		if (i % 4 !== 0)
			r.explicitHashKey = ['4294967296',
			    '170141183460469231731687303715884105728',
			    '340282366920938463463374607431768211455'][i % 3];
		return r;
	}),
	binary: [
		{ partitionKey: 'bin-empty', data: Buffer.alloc(0) },
		{ partitionKey: 'bin-all', data: Buffer.from([...Array(256).keys()]) },
		{ partitionKey: 'bin-magic', data: Buffer.from('f3899ac2deadbeef', 'hex') },
		{ partitionKey: 'bin-big', data: bytes(5000, 7) },
		{ partitionKey: 'bin-text', data: Buffer.from('plain text, not JSON\n') },
		{ partitionKey: 'bin-badutf8', data: Buffer.from('{"a":"\xff"}', 'latin1') },
	],
	unicode: [
		{ partitionKey: 'Zoë', data: Buffer.from('{"name":"Zoë Müller"}') },
		{ partitionKey: '用户-7', data: Buffer.from('["日本語", "テキスト"]') },
		{ partitionKey: 'emoji-😀', data: Buffer.from('"😀"'),
		    explicitHashKey: ehk(42) },
		{ partitionKey: 'quote"back\\slash', data: Buffer.from('null') },
	],
	many: [...Array(500).keys()].map((i) => {
		const r = {
			partitionKey: 'pk-' + (i % 37).toString(36) + '-x',
			data: i % 5 === 0 ? bytes(i % 64, i) :
			    Buffer.from(JSON.stringify({ seq: i, v: i * 3.25 })),
		};
		if (i % 7 === 0)
			r.explicitHashKey = ehk(i % 11);
		return r;
	}),
};

function expected(records) {
	return records.map((r) => ({
		pk: r.partitionKey,
		ehk: r.explicitHashKey === undefined ? null : r.explicitHashKey,
		data: r.data.toString('base64'),
	}));
}

function aggregate(records) {
	return new Promise((resolve, reject) => {
		const out = [];
		agg.aggregate(records, (encoded, callback) => {
			out.push(encoded);
			callback();
		}, () => resolve(out), (err) => reject(err));
	});
}

/*
 * Decode with the official deaggregator and compare: a fixture must say
 * what the library itself means by it. Its one quirk: protobufjs reads an
 * absent explicit_hash_key_index as 0, so a record without an explicit
 * hash key gets table entry 0 (when there is one); ignore ehk there.
 */
function selfcheck(name, buf, want) {
	return new Promise((resolve, reject) => {
		agg.deaggregateSync({ data: buf.toString('base64'),
		    partitionKey: 'outer', sequenceNumber: '1' }, true,
		    (err, recs) => {
			if (err)
				return reject(err);
			const got = recs.map((r, i) => ({ pk: r.partitionKey,
			    ehk: want[i] && want[i].ehk === null ? null :
			    r.explicitPartitionKey, data: r.data }));
			if (JSON.stringify(got) !== JSON.stringify(want))
				return reject(new Error(name + ': round trip differs'));
			resolve();
		});
	});
}

async function main() {
	fs.mkdirSync(outdir, { recursive: true });
	for (const name of Object.keys(cases)) {
		/* aggregate() converts string data in place: give it copies */
		const recs = cases[name].map((r) => Object.assign({}, r));
		const want = expected(cases[name]);
		const encoded = await aggregate(recs);
		if (encoded.length !== 1)
			throw new Error(name + ': ' + encoded.length + ' aggregates');
		const buf = encoded[0].data;
		await selfcheck(name, buf, want);
		fs.writeFileSync(path.join(outdir, name + '.bin'), buf);
		fs.writeFileSync(path.join(outdir, name + '.json'),
		    '{"records":[\n' + want.map((r) => JSON.stringify(r))
		    .join(',\n') + '\n]}\n');
		console.log(name + ': ' + want.length + ' records, ' +
		    buf.length + ' bytes');
	}
}

main().catch((e) => {
	console.error('make_fixtures: ' + e.message);
	process.exit(1);
});
