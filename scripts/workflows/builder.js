'use strict';
// A small builder for the sample workflows: nodes by name, connections by name, stable ids, a
// grid for positions. `npm run workflows` writes workflows/*.json from scripts/workflows/*.js;
// a unit test fails when the committed JSON and these sources disagree.
const { createHash } = require('node:crypto');

const { GRID: SNAP, markdownHeight } = require('./layout');

const PACKAGE = require('../../package.json').name;

/** Node types and the versions the samples are written for (n8n 2.41.1). */
const T = {
	webhook: ['n8n-nodes-base.webhook', 2.1],
	respond: ['n8n-nodes-base.respondToWebhook', 1.5],
	set: ['n8n-nodes-base.set', 3.4],
	if: ['n8n-nodes-base.if', 2.2],
	switch: ['n8n-nodes-base.switch', 3.2],
	code: ['n8n-nodes-base.code', 2],
	httpRequest: ['n8n-nodes-base.httpRequest', 4.2],
	schedule: ['n8n-nodes-base.scheduleTrigger', 1.2],
	manual: ['n8n-nodes-base.manualTrigger', 1],
	merge: ['n8n-nodes-base.merge', 3.2],
	wait: ['n8n-nodes-base.wait', 1.1],
	noOp: ['n8n-nodes-base.noOp', 1],
	dataTable: ['n8n-nodes-base.dataTable', 1.1],
	rabbitmq: ['n8n-nodes-base.rabbitmq', 1.2],
	rabbitmqTrigger: ['n8n-nodes-base.rabbitmqTrigger', 1],
	stopAndError: ['n8n-nodes-base.stopAndError', 1],
	crypto: ['n8n-nodes-base.crypto', 2],
	sticky: ['n8n-nodes-base.stickyNote', 1],
	aiCall: [`${PACKAGE}.aiCall`, 1.1],
	completenessCheck: [`${PACKAGE}.completenessCheck`, 1],
	fallbackRouter: [`${PACKAGE}.fallbackRouter`, 1.1],
	freshnessCheck: [`${PACKAGE}.freshnessCheck`, 1],
	idempotencyGuard: [`${PACKAGE}.idempotencyGuard`, 1.1],
	jobQueue: [`${PACKAGE}.jobQueue`, 1],
	aiUsage: [`${PACKAGE}.aiUsage`, 1],
	aiCallChatModel: [`${PACKAGE}.aiCallChatModel`, 1],
	agent: ['@n8n/n8n-nodes-langchain.agent', 3.1],
	codeTool: ['@n8n/n8n-nodes-langchain.toolCode', 1.3],
};

/** The credential the AI Call nodes name; `npm run demo` and the tests point it at their own. */
const AI_CREDENTIAL = { aiServiceApi: { id: 'ai-service', name: 'AI Service' } };
const RABBITMQ_CREDENTIAL = { rabbitmq: { id: 'rabbitmq', name: 'RabbitMQ' } };
/** Where the samples expect the simulator (`npm run ai-sim`, `npm run demo`); edit to adopt. */
const SIM = 'http://127.0.0.1:8787';

/**
 * One grid cell: a node (96 px) plus room for its name (192 px wide, up to two lines and a
 * subtitle below it) and its output labels; see layout.js. Positions snap to n8n's 16 px grid.
 */
const GRID = { x: 192, y: 176 };
const snap = (px) => Math.round(px / SNAP) * SNAP;

function uuid(seed) {
	const h = createHash('sha256').update(seed).digest('hex');
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

class Workflow {
	/** `column`: px per column, narrower than GRID.x where the names allow it. */
	constructor(file, name, { column = GRID.x } = {}) {
		this.file = file;
		this.name = name;
		this.column = column;
		this.nodes = [];
		this.connections = {};
	}

	/** Adds a node at grid cell [col, row]; returns its name for connections. */
	node(name, [type, typeVersion], parameters, [col, row], extra = {}) {
		if (this.nodes.some((n) => n.name === name))
			throw new Error(`${this.file}: two nodes named ${name}`);
		this.nodes.push({
			parameters,
			id: uuid(`${this.file}/${name}`),
			name,
			type,
			typeVersion,
			position: [snap(col * this.column), snap(row * GRID.y)],
			...extra,
		});
		return name;
	}

	/**
	 * A sticky note above the flow: its left edge at column `col`, its bottom edge at row `bottom`,
	 * `width` px wide and as tall as its markdown needs there (layout.js), so zoom to fit is not
	 * spent on empty paper.
	 */
	note(name, content, [col, bottom], width, color = 7) {
		const height = Math.ceil((markdownHeight(content, width) + 8) / SNAP) * SNAP;
		this.nodes.push({
			parameters: { content, width, height, color },
			id: uuid(`${this.file}/${name}`),
			name,
			type: T.sticky[0],
			typeVersion: T.sticky[1],
			position: [snap(col * this.column), snap(bottom * GRID.y) - height],
		});
		return name;
	}

	/** Connects output `output` of `from` to input `input` of `to`. */
	connect(from, to, output = 0, input = 0) {
		for (const n of [from, to])
			if (!this.nodes.some((x) => x.name === n)) throw new Error(`${this.file}: no node ${n}`);
		const outputs = ((this.connections[from] ??= {}).main ??= []);
		while (outputs.length <= output) outputs.push([]);
		outputs[output].push({ node: to, type: 'main', index: input });
		return this;
	}

	/** Connects a sub-node (a chat model, a tool) to its root node: `type` as ai_languageModel. */
	supply(from, to, type) {
		for (const n of [from, to])
			if (!this.nodes.some((x) => x.name === n)) throw new Error(`${this.file}: no node ${n}`);
		(this.connections[from] ??= {})[type] = [[{ node: to, type, index: 0 }]];
		return this;
	}

	toJSON() {
		return {
			name: this.name,
			nodes: this.nodes,
			connections: this.connections,
			settings: { executionOrder: 'v1' },
			// imported inactive; activation is the importer's choice (importSamples' `activate`)
			active: false,
			meta: { templateCredsSetupCompleted: false, source: PACKAGE },
		};
	}
}

// Parameter helpers for n8n's own nodes, so the sample sources read as what they do.

function webhook(method, path, extra = {}) {
	return {
		params: { httpMethod: method, path, responseMode: 'responseNode', options: {} },
		extra: { webhookId: extra.webhookId ?? uuid(`webhook/${method}/${path}`) },
	};
}

function respond(code, body, headers = {}) {
	const entries = Object.entries(headers).map(([name, value]) => ({ name, value }));
	return {
		respondWith: 'json',
		responseBody: body,
		options: {
			responseCode: code,
			...(entries.length ? { responseHeaders: { entries } } : {}),
		},
	};
}

function assignments(file, node, fields, includeOtherFields = true) {
	return {
		assignments: {
			assignments: Object.entries(fields).map(([name, [type, value]]) => ({
				id: uuid(`${file}/${node}/${name}`),
				name,
				value,
				type,
			})),
		},
		includeOtherFields,
		options: {},
	};
}

function condition(file, node, leftValue, operation, type = 'string', rightValue = '') {
	const single = ['exists', 'notExists', 'empty', 'notEmpty', 'true', 'false'].includes(operation);
	return {
		conditions: {
			options: { caseSensitive: true, leftValue: '', typeValidation: 'loose', version: 2 },
			conditions: [
				{
					id: uuid(`${file}/${node}/condition`),
					leftValue,
					rightValue,
					operator: { type, operation, ...(single ? { singleValue: true } : {}) },
				},
			],
			combinator: 'and',
		},
		looseTypeValidation: true,
		options: {},
	};
}

/** A Data Table chosen by name, so an imported workflow finds the table the first run creates. */
function table(name) {
	return { __rl: true, mode: 'name', value: name };
}

function tableColumns(values) {
	return {
		mappingMode: 'defineBelow',
		value: values,
		matchingColumns: [],
		schema: Object.keys(values).map((id) => ({
			id,
			displayName: id,
			required: false,
			defaultMatch: false,
			display: true,
			type: 'string',
			canBeUsedToMatch: true,
		})),
		attemptToConvertTypes: false,
		convertFieldsToString: false,
	};
}

function tableFilter(column, value) {
	return {
		matchType: 'allConditions',
		filters: { conditions: [{ keyName: column, condition: 'eq', keyValue: value }] },
	};
}

/** Creates the Data Table on first use ("Reuse Existing Tables"), so the sample needs no set-up. */
function ensureTable(name, columns) {
	return {
		resource: 'table',
		operation: 'create',
		tableName: name,
		columns: { column: columns.map((c) => ({ name: c, type: 'string' })) },
		options: { createIfNotExists: true },
	};
}

module.exports = {
	PACKAGE,
	T,
	AI_CREDENTIAL,
	RABBITMQ_CREDENTIAL,
	SIM,
	Workflow,
	uuid,
	webhook,
	respond,
	assignments,
	condition,
	table,
	tableColumns,
	tableFilter,
	ensureTable,
};
