/** Argus CDK constructs, for use in your own CDK app. */
export * from './ApiRoutes.ts';
export * from './ArgusControlPlane.ts';
export * from './ArgusMemberAccount.ts';
export * from './ArgusStacks.ts';
export * from './ArgusStorage.ts';
export { buildArgusApp, CONTEXT } from './app.ts';
