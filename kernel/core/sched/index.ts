// kernel/core/sched/index.ts — the event loop, tasks and timers (public surface).
export { TimerHandler, Timer } from "./timer";
export {
  Task, TaskState, Service, TaskInfo, SchedStats, taskStateName,
  initScheduler, ensureStarted, runPendingWork, spawn, wake, sleep, shouldYield, currentTask,
  after, every, at, rearm, cancel, setDaemon,
  addService, removeService, hold, release, requestExit, exitRequestedStatus, isExitRequested,
  pollSoon, hasWork, runOnce, runLoop, sleepBlocking, yieldNow,
  taskSnapshot, schedStats, setHogThresholdNs, setQuantumNs,
} from "./loop";
export { nowNs, wallClockNs } from "../time";
