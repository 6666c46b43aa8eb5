'use strict';
const { T, SIM, Workflow, webhook } = require('./builder');

const w = new Workflow('observability', 'AI patterns: observability');
const ALERT_URL = `${SIM}/_sim/inbox/state-alerts`;
/** The Header Auth credential the metrics webhook names; `npm run demo` creates it. */
const SCRAPE_CREDENTIAL = { httpHeaderAuth: { id: 'metrics-scrape', name: 'Metrics scrape' } };

w.note(
	'About',
	`## Observability
What every AI Call recorded in the usage ledger, and the state the checks published, three ways:

**GET /webhook/ai/metrics**: Prometheus metrics (calls, tokens, cost, failures, retries, timeouts, fallbacks, cache, latency, shared limits, budgets, breakers, queues, freshness), behind **Header Auth**.
**GET /webhook/ai/dashboard**: a page of cost per day by tag, cost per outcome, calls, latency, budgets, breakers, queues and freshness. It needs no internet access.
**Every minute**: one alert per change of state (a budget passing its warn threshold or running out, a breaker opening, a queue going Warn or Critical, a source going stale, and each coming back), to the simulator's inbox (\`${ALERT_URL}\`).`,
	[0, -0.75],
	704,
	5,
);
w.note(
	'Adopt',
	`### To adopt
1. In **GET /ai/metrics** pick a **Header Auth** credential (Name \`Authorization\`, Value \`Bearer <token>\`) and scrape it with Prometheus (below).
2. Cost per outcome in PromQL: \`sum by (tag) (increase(ai_patterns_cost_usd_total[1d]))\` over \`increase(ai_patterns_outcomes_total[1d])\`.
3. The **AI Usage** nodes read the store your AI Calls use (Auto unless you changed it there).
4. Point **Send alert** at your alert webhook (Slack, Teams, PagerDuty). If the queue monitor sample alerts on your queues, untick **Queues** in **What changed?**.
5. Protect **GET /ai/dashboard** too (Header Auth, or serve it on an internal n8n only).

\`\`\`
- job_name: n8n-ai
  metrics_path: /webhook/ai/metrics
  authorization: { credentials: <token> }
  static_configs: [{ targets: ['n8n:5678'] }]
\`\`\``,
	[3.8, -0.75],
	560,
);

const metricsHook = webhook('GET', 'ai/metrics');
w.node(
	'GET /ai/metrics',
	T.webhook,
	{ ...metricsHook.params, authentication: 'headerAuth' },
	[0, 0],
	{ ...metricsHook.extra, credentials: SCRAPE_CREDENTIAL },
);
w.node('Metrics', T.aiUsage, { operation: 'metrics' }, [1, 0]);
w.node(
	'Respond metrics',
	T.respond,
	text('={{ $json.metrics }}', '={{ $json.contentType }}'),
	[2, 0],
);

const pageHook = webhook('GET', 'ai/dashboard');
w.node('GET /ai/dashboard', T.webhook, pageHook.params, [0, 1], pageHook.extra);
w.node('Dashboard', T.aiUsage, { operation: 'dashboard', dashboardDays: 14 }, [1, 1]);
w.node('Respond page', T.respond, text('={{ $json.html }}', '={{ $json.contentType }}'), [2, 1]);

w.node(
	'Every minute',
	T.schedule,
	{ rule: { interval: [{ field: 'minutes', minutesInterval: 1 }] } },
	[0, 2],
);
w.node('What changed?', T.aiUsage, { operation: 'stateChanges' }, [1, 2]);
w.node(
	'Send alert',
	T.httpRequest,
	{
		method: 'POST',
		url: ALERT_URL,
		sendBody: true,
		specifyBody: 'json',
		jsonBody: '={{ JSON.stringify($json) }}',
		options: { timeout: 10000 },
	},
	[2, 2],
);

w.connect('GET /ai/metrics', 'Metrics');
w.connect('Metrics', 'Respond metrics');
w.connect('GET /ai/dashboard', 'Dashboard');
w.connect('Dashboard', 'Respond page');
w.connect('Every minute', 'What changed?');
w.connect('What changed?', 'Send alert');

/** Respond to Webhook with a text body and its Content-Type. */
function text(body, contentType) {
	return {
		respondWith: 'text',
		responseBody: body,
		options: {
			responseCode: 200,
			responseHeaders: { entries: [{ name: 'Content-Type', value: contentType }] },
		},
	};
}

module.exports = w;
