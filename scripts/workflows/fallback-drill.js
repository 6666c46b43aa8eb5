'use strict';
const {
	T,
	AI_CREDENTIAL,
	Workflow,
	webhook,
	respond,
	assignments,
	condition,
} = require('./builder');

const w = new Workflow('fallback-drill', 'AI patterns: fallback drill');
const F = w.file;
const BRANCHES = ['cached', 'queue', 'human', 'degraded'];

w.note(
	'About',
	`## Fallback drill
A fallback path that never runs is broken when it is needed. Every morning this drill makes the AI "fail" on purpose (AI Call → Options → **Simulate Outage**, no call is made) and checks that the Fallback Router reaches **every** branch: Cached, Queue, Human, Degraded.

**GET /webhook/ai/drill** runs it now: **200** \`{"ok": true, "reached": [...]}\`, or **500** naming the branches not reached (and the execution fails, so n8n's error workflow alerts you).

**Warm up** makes one real call so that a last good answer exists for the Cached branch.`,
	[0, -0.8],
	560,
	5,
);
w.note(
	'Adopt',
	`### To adopt
1. Copy your production AI Call and Fallback Router settings into **Warm up**, **Simulated outage** and **Fallback Router** (same model, prompt, store and cache namespace), so the drill exercises what production runs.
2. Connect each **Reached …** node to what that branch does in production (your queue, ticket system, degraded template) in a test mode.
3. Set an error workflow in the workflow settings to hear about a failed drill.
4. Each run makes one real AI call: protect **GET /ai/drill** with **Authentication** or remove that trigger.`,
	[3, -0.8],
	544,
);

w.node(
	'Every morning',
	T.schedule,
	{ rule: { interval: [{ field: 'days', triggerAtHour: 6 }] } },
	[0, -0.5],
);
const hook = webhook('GET', 'ai/drill');
w.node('GET /ai/drill', T.webhook, hook.params, [0, 0.5], hook.extra);
w.node(
	'Drill question',
	T.set,
	assignments(F, 'Drill question', { question: ['string', 'What are your opening hours?'] }, false),
	[1, 0],
);
const ai = {
	model: { __rl: true, mode: 'id', value: 'sim-standard' },
	systemPrompt: 'You answer customer questions in two or three sentences.',
	userPrompt: '={{ $json.question }}',
	timeoutPreset: 'interactive',
	keepLastGood: true,
};
w.node(
	'Warm up (AI Call)',
	T.aiCall,
	{ ...ai, options: { cacheNamespace: 'drill', maxRetries: 1 } },
	[2, 0],
	{ credentials: AI_CREDENTIAL },
);
w.node(
	'Four drill items',
	T.code,
	{
		jsCode: `// One item per branch: the Fallback Router's drill rotation sends item 1 to Cached,
// 2 to Queue, 3 to Human and 4 to Degraded.
const { question } = $('Drill question').first().json;
return [1, 2, 3, 4].map((n) => ({ json: { question, drillItem: n }, pairedItem: { item: 0 } }));`,
	},
	[3, 0],
);
w.node(
	'Simulated outage (AI Call)',
	T.aiCall,
	{
		...ai,
		options: { cacheNamespace: 'drill', simulate: 'all', simulateClass: 'simulated' },
	},
	[4, 0],
	{ credentials: AI_CREDENTIAL },
);
w.node('Fallback Router', T.fallbackRouter, { drill: 'rotate' }, [5, 0.55]);
for (const [i, branch] of BRANCHES.entries()) {
	w.node(
		`Reached ${branch}`,
		T.set,
		assignments(F, `Reached ${branch}`, { branch: ['string', branch] }, false),
		[6, 0.55 + i * 0.91],
	);
}
w.node('All branches', T.merge, { numberInputs: 4 }, [7, 1.9]);
w.node(
	'Every branch reached?',
	T.code,
	{
		jsCode: `const expected = ${JSON.stringify(BRANCHES)};
const reached = [...new Set($input.all().map((item) => item.json.branch))];
const missing = expected.filter((branch) => !reached.includes(branch));
return [{ json: { ok: missing.length === 0, reached, missing, at: new Date().toISOString() } }];`,
	},
	[8, -0.1],
);
w.node('Passed?', T.if, condition(F, 'Passed?', '={{ $json.ok }}', 'true', 'boolean'), [9, -0.1]);
w.node('Respond 200', T.respond, respond(200, '={{ $json }}'), [10, -0.6]);
w.node('Respond 500', T.respond, respond(500, '={{ $json }}'), [10, 0.45]);
w.node(
	'Fail the execution',
	T.stopAndError,
	{ errorMessage: '={{ "Fallback drill: branches not reached: " + $json.missing.join(", ") }}' },
	[11, 0.45],
);

w.connect('Every morning', 'Drill question');
w.connect('GET /ai/drill', 'Drill question');
w.connect('Drill question', 'Warm up (AI Call)');
// Also when the warm-up fails: the drill then reports that Cached was not reached.
w.connect('Warm up (AI Call)', 'Four drill items', 0);
w.connect('Warm up (AI Call)', 'Four drill items', 1);
w.connect('Four drill items', 'Simulated outage (AI Call)');
// Success cannot happen in a drill of all items; wired so that no item could vanish.
w.connect('Simulated outage (AI Call)', 'Fallback Router', 1);
w.connect('Simulated outage (AI Call)', 'Every branch reached?', 0);
for (const [i, branch] of BRANCHES.entries()) {
	w.connect('Fallback Router', `Reached ${branch}`, i);
	w.connect(`Reached ${branch}`, 'All branches', 0, i);
}
w.connect('All branches', 'Every branch reached?');
w.connect('Every branch reached?', 'Passed?');
w.connect('Passed?', 'Respond 200', 0);
w.connect('Passed?', 'Respond 500', 1);
w.connect('Respond 500', 'Fail the execution');

module.exports = w;
