fn main() -> std::process::ExitCode {
    mesayuda::cli::main()
}
