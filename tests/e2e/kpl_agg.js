#!/usr/bin/env node
/*
 * kpl_agg.js: KPL aggregated records for the end-to-end format tests
 * (test_formats.py), made at test time by the official aws-kinesis-agg
 * library (4.x).
 *
 *   NODE_PATH=build/npm/node_modules node tests/e2e/kpl_agg.js < in.json
 *
 * stdin:  {"groups": [[{"pk": "...", "data": "<base64>", "ehk": "..."}, ...],
 *                     ...]}          (ehk optional)
 * stdout: {"aggregates": [{"group": g, "start": i, "n": n, "pk": "...",
 *                          "ehk": "..." | null, "data": "<base64>"}, ...]}
 *
 * Each group is aggregated on its own; the library may cut a group into
 * several aggregates (1 MB each at most): "start" and "n" say which user
 * records of the group each one holds. Every aggregate is decoded again
 * with the library's own deaggregator (checksums on) and compared with
 * its input, so a fixture always means what the library means by it.
 * Exit status 1 (message on stderr) on any error.
 *
 * Partition keys must not be integer-like ("42"): aws-kinesis-agg builds
 * its key table with Object.keys(), which lists integer-like keys first,
 * so its indexes would not match its table (the self-check catches it).
 */
'use strict';

const agg = require('aws-kinesis-agg');

function readStdin() {
	return new Promise((resolve, reject) => {
		const chunks = [];
		process.stdin.on('data', (c) => chunks.push(c));
		process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
		process.stdin.on('error', reject);
	});
}

function aggregate(records) {
	return new Promise((resolve, reject) => {
		const out = [];
		let failed = false;
		agg.aggregate(records, (encoded, callback) => {
			out.push(encoded);
			callback();
		}, () => {
			if (!failed)
				resolve(out);
		}, (err) => {
			failed = true;
			reject(err);
		});
	});
}

function deaggregate(buf) {
	return new Promise((resolve, reject) => {
		agg.deaggregateSync({ data: buf.toString('base64'),
		    partitionKey: 'outer', sequenceNumber: '1' }, true,
		    (err, recs) => (err ? reject(err) : resolve(recs)));
	});
}

async function main() {
	const input = JSON.parse((await readStdin()).toString('utf8'));
	const result = [];

	for (let g = 0; g < input.groups.length; g++) {
		const group = input.groups[g];
		/* aggregate() may convert data in place: give it fresh objects */
		const recs = group.map((r) => {
			const o = { partitionKey: r.pk,
			    data: Buffer.from(r.data, 'base64') };
			if (r.ehk)
				o.explicitHashKey = r.ehk;
			return o;
		});
		const encoded = await aggregate(recs);
		let start = 0;
		for (const e of encoded) {
			const buf = e.data;
			const back = await deaggregate(buf);
			for (let i = 0; i < back.length; i++) {
				const want = group[start + i];
				if (want === undefined || back[i].partitionKey !==
				    want.pk || back[i].data !== want.data)
					throw new Error('group ' + g + ' record ' +
					    (start + i) + ': round trip differs');
			}
			result.push({ group: g, start: start, n: back.length,
			    pk: e.partitionKey, ehk: e.ExplicitHashKey || null,
			    data: buf.toString('base64') });
			start += back.length;
		}
		if (start !== group.length)
			throw new Error('group ' + g + ': ' + start + ' of ' +
			    group.length + ' records aggregated');
	}
	process.stdout.write(JSON.stringify({ aggregates: result }) + '\n');
}

main().catch((e) => {
	process.stderr.write('kpl_agg: ' + (e && e.message ? e.message : e) +
	    '\n');
	process.exit(1);
});
