//! glommio shell: the only code that names the runtime.
