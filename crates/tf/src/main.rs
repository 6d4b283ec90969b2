//! The `tf` binary; everything is in the library so tests and other front ends can reuse it.

fn main() -> std::process::ExitCode {
    tf::main()
}
