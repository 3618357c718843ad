use clap::Parser;

fn main() {
    let cli = atelier::cli::Cli::parse();
    let code = match atelier::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
