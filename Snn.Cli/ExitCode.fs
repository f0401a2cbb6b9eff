/// The exit codes of `snn`, one per kind of failure; README.md's "Exit codes" table and the help
/// text are made from this list.
module Snn.Cli.ExitCode

/// The command did what was asked (also: help text shown).
[<Literal>]
let Success = 0

/// An unexpected failure inside snn or libtorch: a bug to report (the message says where).
[<Literal>]
let Internal = 1

/// Command line, arguments or experiment / pipeline validation: fix the command or the JSON.
[<Literal>]
let Usage = 2

/// A dataset file or folder is missing, malformed or inconsistent.
[<Literal>]
let Data = 3

/// Reading or writing a file failed (missing, not allowed, disk full, an existing file where a
/// folder is expected) or a file is damaged (truncated, corrupted checkpoint or record).
[<Literal>]
let InputOutput = 4

/// The run folder is in use by another `snn run`.
[<Literal>]
let RunFolderLocked = 5

/// Interrupted (Ctrl-C / SIGINT): 128 + 2, as shells report a process stopped by SIGINT.
[<Literal>]
let Interrupted = 130

/// Every exit code with what it means, in order.
let all =
    [ Success, "success (or the help text was shown)"
      Internal, "internal error: an unexpected failure in snn or libtorch"
      Usage, "usage: unknown command or option, bad value, invalid experiment"
      Data, "data: a dataset file or folder is missing or malformed"
      InputOutput, "input/output: a file cannot be read or written, or is damaged"
      RunFolderLocked, "the run folder is in use by another snn run"
      Interrupted, "interrupted (Ctrl-C)" ]

/// The help text's footer: one line per code.
let helpFooter =
    "EXIT CODES:\n\n"
    + (all
       |> List.map (fun (code, what) -> $"    %3d{code}  {what}")
       |> String.concat "\n")
    + "\n"
