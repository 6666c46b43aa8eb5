'use strict';
const {
	T,
	AI_CREDENTIAL,
	Workflow,
	uuid,
	webhook,
	respond,
	assignments,
	condition,
	table,
	tableColumns,
	ensureTable,
} = require('./builder');

// 15 steps in a row: columns as narrow as the names allow, so zoom to fit stays readable
const w = new Workflow('webhook-pipeline', 'AI patterns: webhook-triggered pipeline', {
	column: 170,
});
const F = w.file;
const TABLE = 'ai_documents';
/** The Cost Tag of both AI Calls and the outcome counted per document: cost per document = their cost / documents. */
const COST_TAG = 'document-processed';
const COLUMNS = [
	'documentId',
	'category',
	'confidence',
	'summary',
	'sentiment',
	'filedUnder',
	'idempotencyKey',
];

w.note(
	'About',
	`## Webhook-triggered pipeline
A system sends documents and retries when it does not hear back, so **the same delivery can arrive twice** (or twenty times at once).

**POST /webhook/ai/documents** with header \`Idempotency-Key\` and \`{"documentId", "title", "text"}\`
- **200** classified and enriched; the same key again gets **the same body** (header \`Idempotent-Replayed: true\`), without calling the AI again
- **409** another delivery with this key is still running after 20 s
- **422** the key was used for a different document
- **400** no \`Idempotency-Key\` header
- **202** the document misses sections or is unreadable: a person reviews it
- **503** + \`Retry-After\` the AI failed for now (rate limit, overload, timeout…); the key is released so the retry runs
- **202** also when the AI cannot handle the document (content filter, too long…): a retry would fail the same way

**GET /webhook/ai/documents/cost**: documents processed today, what both AI Calls cost, and **cost per document** (AI Usage: Record Outcome + Report)`,
	[0, -1.5],
	1008,
	5,
);
w.note(
	'Adopt',
	`### To adopt
1. Pick your **AI Service** credential and models in **Classify** and **Enrich**.
2. Set the sections your documents must have in **Check sections**.
3. Replace the three **File under …** nodes with your systems (finance, legal, a default inbox), and **Store document** (the Data Table \`${TABLE}\`, created on the first delivery) with your system of record.
4. **Store** is Auto in **all four** Idempotency Guard nodes (Claim, Complete and both Release): n8n's own Redis in queue mode, else the Local File, or what \`N8N_AI_PATTERNS_STORE\` sets. Change all four or none.
5. Concurrent duplicates wait up to 20 s (**Wait 1 s** + **Still running?**) for the first delivery's result; set that to how long the pipeline takes.
6. The webhook is open to anyone who can reach n8n: set **Authentication** (e.g. Header Auth) on it before exposing it.`,
	[5.35, -3.3],
	752,
);

const hook = webhook('POST', 'ai/documents');
w.node('POST /ai/documents', T.webhook, hook.params, [0, 0], hook.extra);
w.node(
	'Has Idempotency-Key?',
	T.if,
	condition(F, 'Has Idempotency-Key?', '={{ $json.headers["idempotency-key"] }}', 'notEmpty'),
	[1, 0],
);
w.node(
	'Respond 400 (no key)',
	T.respond,
	respond(
		400,
		'={{ { error: "missing_idempotency_key", message: "Send an Idempotency-Key header, the same on every retry of one document." } }}',
	),
	[2, 1.3],
);
w.node(
	'Claim key',
	T.idempotencyGuard,
	{
		operation: 'claim',
		namespace: 'documents',
		fingerprintFrom: 'payload',
		leaseSeconds: 120,
	},
	[2, -0.18],
);
w.node('Ensure table', T.dataTable, ensureTable(TABLE, COLUMNS), [3.1, 0], {
	// Two first deliveries at once may both try to create it: the second one's error is harmless.
	onError: 'continueRegularOutput',
});
w.node(
	'Extract document',
	T.set,
	assignments(
		F,
		'Extract document',
		{
			documentId: ['string', '={{ $("Claim key").item.json.body.documentId }}'],
			title: ['string', '={{ $("Claim key").item.json.body.title }}'],
			text: ['string', '={{ $("Claim key").item.json.body.text }}'],
			idempotency: ['object', '={{ $("Claim key").item.json.idempotency }}'],
		},
		false,
	),
	[4, 0],
);
w.node(
	'Check sections',
	T.completenessCheck,
	{
		rules: {
			rule: [
				{ path: 'documentId', check: 'notEmpty' },
				{
					path: 'text',
					check: 'sections',
					sectionsIn: 'headings',
					sections: 'Summary, Parties, Terms',
					name: 'expected sections',
				},
				{ path: 'text', check: 'textQuality', minChars: 80, maxBadPercent: 5 },
			],
		},
	},
	[5, 0],
);
w.node(
	'Classify (AI Call)',
	T.aiCall,
	{
		model: { __rl: true, mode: 'id', value: 'sim-standard' },
		systemPrompt:
			'Classify the document as invoice, contract, complaint, support or other. Answer JSON.',
		userPrompt: '={{ $json.title }}\n\n{{ $json.text }}',
		responseFormat: 'jsonSchema',
		jsonSchema:
			'{\n  "type": "object",\n  "properties": {\n    "category": { "type": "string", "enum": ["invoice", "contract", "complaint", "support", "other"] },\n    "confidence": { "type": "number" }\n  },\n  "required": ["category", "confidence"]\n}',
		timeoutPreset: 'interactive',
		options: {
			maxRetries: 1,
			baseDelayMs: 250,
			outputField: 'classification',
			costTag: COST_TAG,
		},
	},
	[6, -1],
	{ credentials: AI_CREDENTIAL },
);
w.node(
	'Enrich (AI Call)',
	T.aiCall,
	{
		model: { __rl: true, mode: 'id', value: 'sim-large' },
		systemPrompt: 'Summarize the document in one sentence and give its sentiment. Answer JSON.',
		userPrompt: '={{ $json.text }}',
		responseFormat: 'jsonSchema',
		jsonSchema:
			'{\n  "type": "object",\n  "properties": {\n    "summary": { "type": "string" },\n    "sentiment": { "type": "string", "enum": ["positive", "negative", "neutral"] }\n  },\n  "required": ["summary", "sentiment"]\n}',
		timeoutPreset: 'interactive',
		options: { maxRetries: 1, baseDelayMs: 250, outputField: 'enrichment', costTag: COST_TAG },
	},
	[7, -1],
	{ credentials: AI_CREDENTIAL },
);
const route = (key, category) => ({
	outputKey: key,
	renameOutput: true,
	conditions: {
		options: { caseSensitive: true, leftValue: '', typeValidation: 'strict', version: 2 },
		conditions: [
			{
				id: `${key}-rule`,
				leftValue: '={{ $json.classification.json.category }}',
				rightValue: category,
				operator: { type: 'string', operation: 'equals' },
			},
		],
		combinator: 'and',
	},
});
w.node(
	'Route by class',
	T.switch,
	{
		rules: { values: [route('Finance', 'invoice'), route('Legal', 'contract')] },
		options: { fallbackOutput: 'extra', renameFallbackOutput: 'Other' },
	},
	[8, -2.09],
);
for (const [i, team] of ['finance', 'legal', 'general'].entries()) {
	w.node(
		`File under ${team}`,
		T.set,
		assignments(F, `File under ${team}`, { filedUnder: ['string', team] }),
		[9, -3 + i],
	);
}
w.node(
	'Build response',
	T.set,
	assignments(F, 'Build response', {
		response: [
			'object',
			'={{ { documentId: $json.documentId, category: $json.classification.json.category, confidence: $json.classification.json.confidence, summary: $json.enrichment.json.summary, sentiment: $json.enrichment.json.sentiment, filedUnder: $json.filedUnder, costUsd: $json.classification.cost.totalUsd + $json.enrichment.cost.totalUsd, processedAt: $now.toUTC().toISO() } }}',
		],
	}),
	[10, -2],
);
w.node(
	'Store document',
	T.dataTable,
	{
		resource: 'row',
		operation: 'insert',
		dataTableId: table(TABLE),
		columns: tableColumns({
			documentId: '={{ $json.response.documentId }}',
			category: '={{ $json.response.category }}',
			confidence: '={{ String($json.response.confidence) }}',
			summary: '={{ $json.response.summary }}',
			sentiment: '={{ $json.response.sentiment }}',
			filedUnder: '={{ $json.response.filedUnder }}',
			idempotencyKey: '={{ $json.idempotency.key }}',
		}),
		options: {},
	},
	[10.8, -2],
);
const built = '$("Build response").item.json';
w.node(
	'Complete key',
	T.idempotencyGuard,
	{
		operation: 'complete',
		key: `={{ ${built}.idempotency.key }}`,
		namespace: `={{ ${built}.idempotency.namespace }}`,
		claimId: `={{ ${built}.idempotency.token }}`,
		resultFrom: 'expression',
		result: `={{ ${built}.response }}`,
	},
	[11.6, -2],
);
w.node(
	'Count document',
	T.aiUsage,
	{ operation: 'recordOutcome', outcomeTag: COST_TAG, outcomeCount: 1 },
	[12.3, -2],
);
w.node('Respond 200', T.respond, respond(200, `={{ ${built}.response }}`), [13.1, -2.9]);

// What a document costs: both AI Calls' cost today / documents processed today.
const costHook = webhook('GET', 'ai/documents/cost');
w.node('GET cost', T.webhook, costHook.params, [0, 2.9], costHook.extra);
w.node(
	'Cost per document',
	T.aiUsage,
	{ operation: 'report', window: 'today', groupBy: 'tag', filterTag: COST_TAG },
	[1, 2.9],
);
w.node(
	'Respond cost',
	T.respond,
	respond(
		200,
		`={{ { documents: $json.outcomes["${COST_TAG}"], costUsd: $json.costUsd, costPerDocumentUsd: $json.costPerOutcome["${COST_TAG}"], calls: $json.calls, failed: $json.failed, since: $json.from } }}`,
	),
	[2, 2.9],
);

// Incomplete documents and AI failures a retry cannot fix: release the key (a corrected
// document may come with the same key) and hand over to a person.
w.node('Release key (needs a person)', T.idempotencyGuard, { operation: 'release' }, [10, 0.1]);
w.node('Human review', T.noOp, {}, [11, 0.1]);
w.node(
	'Respond 202 (review)',
	T.respond,
	respond(
		202,
		'={{ { status: "needs_review", documentId: $json.documentId, reason: $json.error ? $json.error.class : "incomplete", problems: $json.completeness.failed } }}',
	),
	[12, 0.1],
);
// AI failures: release the key so the sender's retry runs the pipeline again.
w.node(
	'Retry may help?',
	T.if,
	condition(F, 'Retry may help?', '={{ $json.error.retryable }}', 'true', 'boolean'),
	[8, 1],
);
w.node('Release key (AI failed)', T.idempotencyGuard, { operation: 'release' }, [10, 1.2]);
w.node(
	'Respond 503 (retry)',
	T.respond,
	respond(
		503,
		'={{ { error: "ai_unavailable", class: $json.error.class, message: "Retry later with the same Idempotency-Key." } }}',
		{ 'Retry-After': '30' },
	),
	[11, 1.2],
);

// Claim outcomes other than New.
w.node(
	'Respond 200 (replay)',
	T.respond,
	respond(200, '={{ $json.idempotency.result }}', { 'Idempotent-Replayed': 'true' }),
	[3.1, 0.9],
);
w.node('Wait 1 s', T.wait, { amount: 1, unit: 'seconds' }, [3.1, 1.8], {
	webhookId: uuid('webhook-pipeline/wait'),
});
w.node(
	'Still running?',
	T.if,
	condition(F, 'Still running?', '={{ $runIndex }}', 'lt', 'number', 20),
	[4, 1.8],
);
w.node(
	'Respond 409 (in progress)',
	T.respond,
	respond(
		409,
		'={{ { error: "in_progress", message: "A delivery with this Idempotency-Key is still being processed." } }}',
		{ 'Retry-After': '5' },
	),
	[5, 2.3],
);
w.node(
	'Respond 422 (key reused)',
	T.respond,
	respond(
		422,
		'={{ { error: "idempotency_key_reused", message: "This Idempotency-Key was used for a different document." } }}',
	),
	[3.1, 2.7],
);

w.connect('POST /ai/documents', 'Has Idempotency-Key?');
w.connect('Has Idempotency-Key?', 'Claim key', 0);
w.connect('Has Idempotency-Key?', 'Respond 400 (no key)', 1);
w.connect('Claim key', 'Ensure table', 0); // New
w.connect('Ensure table', 'Extract document');
w.connect('Claim key', 'Respond 200 (replay)', 1); // Duplicate
w.connect('Claim key', 'Wait 1 s', 2); // In Progress
w.connect('Claim key', 'Respond 422 (key reused)', 3); // Conflict
w.connect('Wait 1 s', 'Still running?');
w.connect('Still running?', 'Claim key', 0);
w.connect('Still running?', 'Respond 409 (in progress)', 1);
w.connect('Extract document', 'Check sections');
w.connect('Check sections', 'Classify (AI Call)', 0);
w.connect('Check sections', 'Release key (needs a person)', 1);
w.connect('Release key (needs a person)', 'Human review');
w.connect('Human review', 'Respond 202 (review)');
w.connect('Classify (AI Call)', 'Enrich (AI Call)', 0);
w.connect('Classify (AI Call)', 'Retry may help?', 1);
w.connect('Enrich (AI Call)', 'Route by class', 0);
w.connect('Enrich (AI Call)', 'Retry may help?', 1);
w.connect('Retry may help?', 'Release key (AI failed)', 0);
// A failure that would repeat (content filter, context length, bad output): a person looks at it.
w.connect('Retry may help?', 'Release key (needs a person)', 1);
w.connect('Route by class', 'File under finance', 0);
w.connect('Route by class', 'File under legal', 1);
w.connect('Route by class', 'File under general', 2);
for (const team of ['finance', 'legal', 'general'])
	w.connect(`File under ${team}`, 'Build response');
w.connect('Build response', 'Store document');
w.connect('Store document', 'Complete key');
w.connect('Complete key', 'Count document');
w.connect('Count document', 'Respond 200', 0);
// an outcome that could not be counted still answers the sender
w.connect('Count document', 'Respond 200', 1);
w.connect('GET cost', 'Cost per document');
w.connect('Cost per document', 'Respond cost');
w.connect('Release key (AI failed)', 'Respond 503 (retry)');

module.exports = w;
