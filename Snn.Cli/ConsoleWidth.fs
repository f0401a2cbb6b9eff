/// How wide `snn` draws its tables. Spectre.Console draws at 80 columns when stdout is not a
/// terminal, which wrapped every column head of the summary tables in a log file; a file has no
/// right edge, so there a table is drawn as wide as its contents need (up to WideColumns).
module Snn.Cli.ConsoleWidth

open System
open Spectre.Console

/// The width of a table written to a file or a pipe: wide enough for every table `snn` prints.
[<Literal>]
let WideColumns = 240

/// The width the COLUMNS variable asks for, if it holds a positive whole number (as shells set it).
let requested (columns: string) =
    match Int32.TryParse columns with
    | true, n when n > 0 -> Some n
    | _ -> None

/// Sets the width of AnsiConsole: COLUMNS where set, else WideColumns when stdout is not a
/// terminal, else the terminal's own width (Spectre.Console's default).
let apply () =
    match requested (Environment.GetEnvironmentVariable "COLUMNS") with
    | Some n -> AnsiConsole.Profile.Width <- n
    | None when Console.IsOutputRedirected -> AnsiConsole.Profile.Width <- WideColumns
    | None -> ()
