// kernel/core/irq — interrupts: vectors, I/O APIC routes (GSIs, ISA IRQs through the
// MADT's overrides), MSI messages, and their dispatch from the event loop (dispatch.ts).
// The public face: other subsystems import from here, not from the files.
export {
  IrqHandler, VECTOR_FIRST, VECTOR_LAST, TIMER_VECTOR, ERROR_VECTOR, SPURIOUS_VECTOR, initInterrupts,
  ensureInterrupts, interruptSource, ioApicCount, ioApicAt, isaIrqToGsi, allocVector, claimVector, irqForGsi,
  irqForIsa, allocMsiVector, msiAddress, msiData, freeVector, dispatchPending, irqCountFor, irqTotal,
  irqUnhandled,
} from "./dispatch";
