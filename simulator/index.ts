export {
	startSimulator,
	maskKey,
	type Simulator,
	type SimulatorCounters,
	type SimulatorOptions,
	type InboxEntry,
	type RequestLogEntry,
} from './server';
export { selfSignedCertificate, type SelfSigned } from './tls';
export { parseFaultSpec, FaultSpecError, type FaultSpec, type FaultKind } from './faults';
export { classify, countTokens, countInputTokens, contextWindow, SIM_MODELS } from './answers';
