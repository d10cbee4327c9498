/** The one suggestion for what this kernel cannot attach: the QEMU runner. */
export const VM_HINT = "kfunc vm run -- kfunc run <obj.o> --trace (boots a Debian kernel in QEMU)";
