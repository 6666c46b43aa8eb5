import { NodeConnectionTypes } from 'n8n-workflow';

/**
 * The `outputs` expression of a node whose named outputs depend on its Operation, e.g.
 * { submit: ['New', 'Existing'], get: ['Found', 'Not Found'] }: the editor evaluates it per node.
 */
export function outputsByOperation(outputs: Record<string, string[]>): `={{${string}}}` {
	const byOperation = Object.fromEntries(
		Object.entries(outputs).map(([op, names]) => [
			op,
			names.map((displayName) => ({ type: NodeConnectionTypes.Main, displayName })),
		]),
	);
	return `={{ (${JSON.stringify(byOperation)})[$parameter["operation"]] }}`;
}
