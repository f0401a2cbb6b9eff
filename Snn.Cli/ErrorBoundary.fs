/// The one place where a failure of `snn` becomes a message and an exit code (ExitCode.fs): every
/// exception that leaves a command ends here, is printed as one `snn: ...` message naming the
/// file, argument or step, and ends the process with the code of its kind. The stack trace is
/// printed only with --verbose (or SNN_DEBUG=1).
module Snn.Cli.ErrorBoundary

open System
open System.IO
open System.Runtime.InteropServices
open Argu
open Snn.Core.Data

/// A failure already explained on stderr (for example by a child process) that ends snn with
/// `code`; its message says what failed.
type ReportedFailureException(message: string, code: int) =
    inherit Exception(message)

    /// The exit code snn ends with.
    member _.ExitCode = code

/// The key of Exception.Data under which `withStep` records the steps a failure passed through.
[<Literal>]
let private StepsKey = "snn.steps"

/// Runs `f`; an exception leaving it is tagged with `step` (what was being done: "reading the
/// dataset", "bench --only sim") and rethrown unchanged, so that the message says where it
/// happened. Nested steps read outermost first.
let withStep (step: string) (f: unit -> 'a) : 'a =
    try
        f ()
    with e ->
        e.Data[StepsKey] <-
            match e.Data[StepsKey] with
            | :? string as inner -> $"{step}: {inner}"
            | _ -> step

        reraise ()

/// The exception that says what went wrong: wrappers (one-element aggregates, reflection and
/// type-initialiser wrappers) are looked through. Also returns the wrappers, outermost first.
let rec private unwrap (e: exn) : exn list =
    let inner: exn =
        match e with
        | :? AggregateException as a when a.InnerExceptions.Count = 1 -> a.InnerExceptions[0]
        | :? Reflection.TargetInvocationException as t -> t.InnerException
        | :? TypeInitializationException as t -> t.InnerException
        | _ -> null

    if isNull inner then [ e ] else e :: unwrap inner

/// True for the exception a run throws when its folder is locked by another run
/// (Snn.Dsl.Pipeline.RunFolderLockedException), recognised by its type name or a base type's.
let isRunFolderLocked (e: exn) =
    Seq.unfold (fun (t: Type) -> if isNull t then None else Some(t.Name, t.BaseType)) (e.GetType())
    |> Seq.contains "RunFolderLockedException"

/// libtorch's message without the C++ backtrace it appends ("Exception raised from ...",
/// "frame #0: ...").
let nativeMessage (message: string) =
    let lines = message.Replace("\r\n", "\n").Split('\n')

    let isTrace (l: string) =
        l.StartsWith "Exception raised from" || l.StartsWith "frame #"

    let kept = lines |> Array.takeWhile (not << isTrace)
    (String.Join("\n", kept)).TrimEnd()

/// An ArgumentException's message without .NET's " (Parameter 'name')" suffix: the messages of
/// Snn.Core and snn name the argument themselves.
let argumentMessage (e: ArgumentException) =
    let suffix = $" (Parameter '{e.ParamName}')"

    if not (isNull e.ParamName) && e.Message.EndsWith suffix then
        e.Message.Substring(0, e.Message.Length - suffix.Length)
    else
        e.Message

/// Argu's error text without its usage part: the line after "ERROR: " (or the whole text).
let private arguError (message: string) =
    message.Replace("\r\n", "\n").Split('\n')
    |> Array.tryPick (fun l -> if l.StartsWith "ERROR: " then Some(l.Substring 7) else None)
    |> Option.defaultValue (message.Trim())

/// Argu's usage text (everything but the ERROR line).
let private arguUsage (message: string) =
    message.Replace("\r\n", "\n").Split('\n')
    |> Array.filter (fun l -> not (l.StartsWith "ERROR: "))
    |> String.concat "\n"
    |> fun s -> s.Trim()

/// How the boundary ends snn for one exception.
type Outcome =
    {
        /// The code the process exits with.
        ExitCode: int
        /// Printed before the message (usage text or, with --verbose, the stack trace); may be "".
        Detail: string
        /// The last line(s) printed: "snn: ..." (or the help text for --help).
        Message: string
        /// True for the help text: printed on stdout; everything else goes to stderr.
        ToStdout: bool
    }

/// The outcome of an exception that left a command, `interrupted` telling whether Ctrl-C was
/// pressed; `verbose` adds the stack trace.
let describeAt (interrupted: bool) (verbose: bool) (e: exn) : Outcome =
    let chain = unwrap e
    let cause = List.last chain

    let steps =
        chain
        |> List.choose (fun x ->
            match x.Data[StepsKey] with
            | :? string as s -> Some s
            | _ -> None)

    let at = steps |> List.map (fun s -> s + ": ") |> String.concat ""
    let trace = if verbose then string e else ""

    // A message of several lines (every problem of an invalid experiment) keeps "snn: " on each.
    let fail code (message: string) =
        { ExitCode = code
          Detail = trace
          Message =
            message.TrimEnd().Split('\n')
            |> Array.mapi (fun i l -> if i = 0 then $"snn: {at}{l}" else $"snn: {l}")
            |> String.concat "\n"
          ToStdout = false }

    let internalError (message: string) =
        let hint =
            if verbose then
                ""
            else
                " (run with --verbose for the stack trace)"

        { fail ExitCode.Internal "" with
            Message = $"snn: internal error: {at}{message}{hint}" }

    match cause with
    | :? ArguParseException as a when a.ErrorCode = ErrorCode.HelpText ->
        { ExitCode = ExitCode.Success
          Detail = ""
          Message = a.Message.TrimEnd() + "\n\n" + ExitCode.helpFooter
          ToStdout = true }
    | :? ArguParseException as a ->
        { fail ExitCode.Usage (arguError a.Message) with
            Detail = arguUsage a.Message }
    | :? ReportedFailureException as r -> fail r.ExitCode r.Message
    | :? OperationCanceledException when interrupted -> fail ExitCode.Interrupted "interrupted"
    | e when isRunFolderLocked e -> fail ExitCode.RunFolderLocked e.Message
    | :? DataFileException as d -> fail ExitCode.Data d.Message
    | :? ArgumentException as a -> fail ExitCode.Usage (argumentMessage a)
    | :? IOException
    | :? UnauthorizedAccessException
    | :? InvalidDataException -> fail ExitCode.InputOutput cause.Message
    | :? ExternalException as x -> internalError $"libtorch: {nativeMessage x.Message}"
    | :? OutOfMemoryException -> internalError "out of memory"
    | _ -> internalError cause.Message

/// The outcome of an exception that left a command in this process (Ctrl-C as pressed here).
let describe (verbose: bool) (e: exn) =
    describeAt (Interrupt.requested ()) verbose e

/// Prints an outcome: the detail, then the message (stdout for help, stderr otherwise).
let print (o: Outcome) =
    Console.Out.Flush()
    let out = if o.ToStdout then Console.Out else Console.Error

    if o.Detail <> "" then
        out.WriteLine o.Detail

    out.WriteLine o.Message
    out.Flush()

/// True when the stack trace is wanted: --verbose anywhere on the command line, or SNN_DEBUG=1.
let verboseRequested (argv: string[]) =
    Array.contains "--verbose" argv
    || Environment.GetEnvironmentVariable "SNN_DEBUG" = "1"

let mutable private otherThreadsWatched = 0

/// Runs a command inside the boundary: its exit code, or the code of the exception that left it
/// (printed as above). An exception on another thread is reported the same way.
let run (verbose: bool) (command: unit -> int) : int =
    if not (Threading.Interlocked.Exchange(&otherThreadsWatched, 1) = 1) then
        AppDomain.CurrentDomain.UnhandledException.Add(fun args ->
            match args.ExceptionObject with
            | _ when Interrupt.isEnding () -> ()
            | :? exn as e ->
                let o = describe verbose e
                print o
                exit o.ExitCode
            | _ -> ())

    try
        command ()
    with
    | _ when Interrupt.isEnding () -> ExitCode.Interrupted
    | e ->
        let o = describe verbose e
        print o
        o.ExitCode
