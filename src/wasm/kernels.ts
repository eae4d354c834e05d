/**
 * Kernels this project registers on the wasm backend (see docs/ARCHITECTURE.md, "Fast wasm").
 * Called once by initBackend before the wasm backend is selected.
 */
export function registerWasmKernels(): void {
  // Filled in by the fast-BatchMatMul work (issue 2, item 4).
}
