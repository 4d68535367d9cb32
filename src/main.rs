//! `sockbench`: serve a model, load it, run the experiments, draw the report.
//! Everything happens in the library; this only maps the result to an exit code.

fn main() -> std::process::ExitCode {
    sockbench::cli::main()
}
