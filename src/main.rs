fn main() -> std::process::ExitCode {
    brickwarden::cli::main()
}
