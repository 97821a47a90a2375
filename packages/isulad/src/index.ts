export { runDaemon } from './daemon/boot';
export * from './config';
