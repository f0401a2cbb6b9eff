/// Ctrl-C (SIGINT) as a cooperative stop: the first Ctrl-C asks the running command to stop at
/// its next safe point (`check`, or a progress sink wrapped by `guard`), which throws
/// OperationCanceledException so that every `use` and finally block runs on the way out and the
/// error boundary exits with 130. A command that reaches no safe point within the grace period
/// is ended by the watchdog (exit code 130); a second Ctrl-C ends the process at once by SIGINT
/// (which shells report as 130).
module Snn.Cli.Interrupt

open System
open System.Threading
open Snn.Dsl.Pipeline

/// A stop request and the safe points that honour it.
type Interruption() =
    let source = new CancellationTokenSource()

    /// Cancelled once a stop is requested.
    member _.Token = source.Token

    /// True once a stop was requested.
    member _.Requested = source.IsCancellationRequested

    /// Requests the stop (the first Ctrl-C does this).
    member _.Request() = source.Cancel()

    /// A safe point: throws OperationCanceledException once a stop was requested.
    member _.Check() =
        source.Token.ThrowIfCancellationRequested()

    /// The progress sink with a safe point at every start and advance of a task.
    member this.Guard(sink: IProgressSink) : IProgressSink =
        { new IProgressSink with
            member _.Log message = sink.Log message

            member _.Start(name, total) =
                this.Check()
                let task = sink.Start(name, total)

                { new IProgressTask with
                    member _.Advance(steps, status) =
                        task.Advance(steps, status)
                        this.Check()

                    member _.Finish() = task.Finish() } }

/// The process's interruption, requested by Ctrl-C once `install` has run.
let current = Interruption()

/// True once Ctrl-C was pressed.
let requested () = current.Requested

/// A safe point: throws OperationCanceledException once Ctrl-C was pressed.
let check () = current.Check()

/// The progress sink with a safe point at every start and advance of a task (for `snn run`).
let guard (sink: IProgressSink) = current.Guard sink

let mutable private ending = 0

/// True once the watchdog is ending the process: a failure of the command's thread while the
/// process is torn down is a consequence of the interruption, not news.
let isEnding () = Volatile.Read &ending = 1

/// Ends the process from the watchdog thread (never from the signal handler itself).
let private exitNow (why: string) =
    Volatile.Write(&ending, 1)
    Console.Out.Flush()
    eprintfn "snn: interrupted%s" why
    exit ExitCode.Interrupted

let private onCancelKeyPress (graceSeconds: float) (e: ConsoleCancelEventArgs) =
    if current.Requested then
        // Not cancelled: the runtime ends the process by SIGINT at once (shells report 130).
        eprintfn "snn: interrupted (second Ctrl-C: stopped at once)"
        e.Cancel <- false
    else
        e.Cancel <- true

        eprintfn
            "snn: interrupt received: stopping at the next safe point (Ctrl-C again stops at once, without clean-up)"

        current.Request()

        let watchdog =
            Thread(
                (fun () ->
                    Thread.Sleep(TimeSpan.FromSeconds graceSeconds)
                    exitNow $" (no safe point reached within {graceSeconds:F0} s: stopped without clean-up)"),
                IsBackground = true
            )

        watchdog.Start()

/// Installs the Ctrl-C handler once; `graceSeconds` is how long the command may run on after
/// the first Ctrl-C before the process is ended.
let install =
    let installed = ref false

    fun (graceSeconds: float) ->
        if not installed.Value then
            installed.Value <- true
            Console.CancelKeyPress.Add(onCancelKeyPress graceSeconds)
