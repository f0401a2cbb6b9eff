/// Progress reporting for long loops, independent of the front end: the CLI shows Spectre.Console
/// bars with ETA, notebooks and scripts print plain lines.
namespace Snn.Dsl.Pipeline

open System

/// One long loop in progress.
type IProgressTask =
    /// Marks <paramref name="steps"/> more units done; <paramref name="status"/> is shown beside the bar.
    abstract Advance: steps: int * status: string -> unit
    /// Ends the task (the bar shows complete).
    abstract Finish: unit -> unit

/// Where the pipeline reports what it does.
type IProgressSink =
    /// Starts a task of <paramref name="total"/> units named <paramref name="name"/>.
    abstract Start: name: string * total: int -> IProgressTask
    /// A line of information (a finished phase, a measured figure).
    abstract Log: message: string -> unit

/// A sink that prints a line when a task starts and ends and every ~10% in between, with ETA.
type ConsoleLines(?write: string -> unit) =
    let write = defaultArg write (fun (s: string) -> Console.Out.WriteLine s)

    interface IProgressSink with
        member _.Log message = write message

        member _.Start(name, total) =
            let clock = Diagnostics.Stopwatch.StartNew()
            let mutable done' = 0
            let mutable lastDecile = 0
            write $"{name}: 0/{total}"

            { new IProgressTask with
                member _.Advance(steps, status) =
                    done' <- done' + steps
                    let decile = if total > 0 then 10 * done' / total else 10

                    if decile > lastDecile && done' < total then
                        lastDecile <- decile
                        let eta = clock.Elapsed.TotalSeconds / float done' * float (total - done')
                        write $"{name}: {done'}/{total} {status} (ETA {TimeSpan.FromSeconds(eta):``hh\:mm\:ss``})"

                member _.Finish() =
                    write $"{name}: done in %.1f{clock.Elapsed.TotalSeconds} s" }

/// A sink that says nothing (tests).
type SilentProgress() =
    interface IProgressSink with
        member _.Log _ = ()

        member _.Start(_, _) =
            { new IProgressTask with
                member _.Advance(_, _) = ()
                member _.Finish() = () }
