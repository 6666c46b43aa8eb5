'use strict';
const { T, SIM, Workflow, webhook, respond, assignments } = require('./builder');

const w = new Workflow('freshness-monitor', 'AI patterns: freshness monitor');
const F = w.file;

w.note(
	'About',
	`## Freshness monitor
An AI that answers from a search index answers from **stale data** when the indexer silently stops. This checks every 15 minutes when the index last updated and alerts when it is older than 1 hour (warn) or 6 hours (stale).

**GET /webhook/ai/freshness** runs the check now and answers with its result (an unreachable status endpoint is alerted too).

By default it reads the simulator's stand-in index (\`${SIM}/_sim/index-status\`) and alerts to its inbox (\`${SIM}/_sim/inbox/alerts\`).`,
	[0, -0.75],
	576,
	5,
);
w.note(
	'Adopt',
	`### To adopt
1. In **Settings**, set \`statusUrl\` to your index's status endpoint (or replace **Read index status** with a Postgres node: \`SELECT max(updated_at) AS "lastUpdatedAt" FROM documents\`).
2. Set \`alertUrl\` to your alert webhook (Slack, Teams, PagerDuty) or replace **Send alert**.
3. Set the thresholds in **Is the index fresh?** to your indexer's schedule.
4. Alerts repeat on every run while the index is late. To alert once per state, put an **Idempotency Guard** (Claim, key \`{{ $json.alert.index + ':' + $json.alert.status }}\`) before **Send alert** and Complete it with the retention you want between reminders.`,
	[3.1, -0.75],
	560,
);

w.node(
	'Every 15 minutes',
	T.schedule,
	{ rule: { interval: [{ field: 'minutes', minutesInterval: 15 }] } },
	[0, 0],
);
const hook = webhook('GET', 'ai/freshness');
w.node('GET /ai/freshness', T.webhook, hook.params, [0, 1], hook.extra);
w.node(
	'Settings',
	T.set,
	assignments(
		F,
		'Settings',
		{
			statusUrl: ['string', `${SIM}/_sim/index-status`],
			alertUrl: ['string', `${SIM}/_sim/inbox/alerts`],
		},
		false,
	),
	[1, 0.5],
);
w.node(
	'Read index status',
	T.httpRequest,
	{ url: '={{ $json.statusUrl }}', options: { timeout: 10000 } },
	[2, 0.5],
	// an unreachable status endpoint is itself worth an alert
	{ onError: 'continueErrorOutput' },
);
w.node(
	'Is the index fresh?',
	T.freshnessCheck,
	{
		field: 'lastUpdatedAt',
		warnAfter: 1,
		warnAfterUnit: 'hour',
		errorAfter: 6,
		errorAfterUnit: 'hour',
		// for the observability sample's metrics, dashboard and state-change alerts
		publishStatus: true,
		statusSource: 'search-index',
	},
	[3, 0.45],
);
w.node(
	'Alert',
	T.set,
	assignments(
		F,
		'Alert',
		{
			alert: [
				'object',
				'={{ { text: `Index ${$json.index} is ${$json.freshness.status}: last updated ${$json.freshness.age} ago (${$json.freshness.timestamp})`, index: $json.index, status: $json.freshness.status, age: $json.freshness.age, lastUpdatedAt: $json.freshness.timestamp } }}',
			],
		},
		false,
	),
	[4, 0.5],
);
w.node(
	'Alert (status unreachable)',
	T.set,
	assignments(
		F,
		'Alert (status unreachable)',
		{
			alert: [
				'object',
				'={{ { text: "Index status could not be read: " + ($json.error?.message ?? JSON.stringify($json.error)), status: "unknown" } }}',
			],
		},
		false,
	),
	[3, 1.65],
);
w.node(
	'Respond (fresh)',
	T.respond,
	respond(
		200,
		'={{ { index: $json.index, status: $json.freshness.status, age: $json.freshness.age, alerted: false } }}',
	),
	[4, -0.5],
);
// Answer first (a schedule run has no caller), then send: a failing alert hook fails the execution.
w.node(
	'Respond (alerted)',
	T.respond,
	respond(200, '={{ { ...$json.alert, alerted: true } }}'),
	[5, 1],
);
w.node(
	'Send alert',
	T.httpRequest,
	{
		method: 'POST',
		url: '={{ $("Settings").first().json.alertUrl }}',
		sendBody: true,
		specifyBody: 'json',
		jsonBody: '={{ JSON.stringify($json.alert) }}',
		options: { timeout: 10000 },
	},
	[6, 1],
);

w.connect('Every 15 minutes', 'Settings');
w.connect('GET /ai/freshness', 'Settings');
w.connect('Settings', 'Read index status');
w.connect('Read index status', 'Is the index fresh?', 0);
w.connect('Read index status', 'Alert (status unreachable)', 1);
w.connect('Is the index fresh?', 'Respond (fresh)', 0);
w.connect('Is the index fresh?', 'Alert', 1);
w.connect('Is the index fresh?', 'Alert', 2);
w.connect('Alert', 'Respond (alerted)');
w.connect('Alert (status unreachable)', 'Respond (alerted)');
w.connect('Respond (alerted)', 'Send alert');

module.exports = w;
