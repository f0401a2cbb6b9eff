/// Every measurement runs in a child process (`snn bench --only <part> --report-to <file>`) so
/// that each gets its own peak working set (VmHWM): the parent's side (`runChild`) and the
/// child's (`childMeasurement`).
module Snn.Cli.Bench.Child

open System
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes
open TorchSharp
open Snn.Cli
open Snn.Cli.Bench.Args
open Snn.Cli.Bench.Measure
open Snn.Cli.Bench.Simulation
open Snn.Cli.Bench.Training
open Snn.Cli.Bench.PhaseTwo

/// --verbose (or SNN_DEBUG=1) is passed on to the children.
let private verbose () =
    ErrorBoundary.verboseRequested (Environment.GetCommandLineArgs())

/// Runs `snn bench <args> --report-to <temp file>` with this run's sizes and returns the JSON the
/// child wrote; a failed child ends the bench with the child's exit code.
let runChild (plan: Plan) (args: string list) : JsonObject =
    let report = Path.GetTempFileName()
    let self = Environment.ProcessPath
    let entry = Reflection.Assembly.GetEntryAssembly().Location

    let prefix =
        if Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase) then
            [ entry ]
        else
            []

    let all =
        prefix
        @ [ "bench" ]
        @ args
        @ [ "--report-to"; report ]
        @ (if plan.Quick then [ "--quick" ] else [])
        @ [ "--repeats"
            string plan.Repeats
            "--train-repeats"
            string plan.TrainRepeats ]
        @ (match plan.DataPath with
           | Some p -> [ "--data"; p ]
           | None -> [])
        @ (if verbose () then [ "--verbose" ] else [])

    let info = ProcessStartInfo(self)

    for a in all do
        info.ArgumentList.Add a

    info.UseShellExecute <- false

    try
        use p = Process.Start info

        // Ctrl-C reaches the child too when both run in a terminal; a child signalled alone is
        // ended here so that the parent stops as well.
        let mutable killed = false

        while not (p.WaitForExit 200) do
            if Interrupt.requested () && not killed then
                killed <- true
                p.Kill true

        p.WaitForExit()
        Interrupt.check ()

        if p.ExitCode <> 0 then
            // The child printed its own `snn:` message; snn ends with its code (internal for a
            // code snn does not document, e.g. a crash).
            let code =
                if ExitCode.all |> List.exists (fun (c, _) -> c = p.ExitCode) then
                    p.ExitCode
                else
                    ExitCode.Internal

            raise (
                ErrorBoundary.ReportedFailureException(
                    $"snn bench {String.Join(' ', args)} failed with exit code {p.ExitCode} (its message is above)",
                    code
                )
            )

        JsonNode.Parse(File.ReadAllText report).AsObject()
    finally
        File.Delete report

/// The child's side: runs one measurement (`--only part`) and writes its JSON, with this
/// process's peak working set and thread count, to `reportTo`.
let childMeasurement (plan: Plan) (part: string) (t: int) (reportTo: string) =
    let measure () =
        match part with
        | "sim" -> measureSim plan t
        | "simpeak" -> measureSimPeak plan t
        | "train" -> measureTrain plan
        | "phase2" -> measurePhase2 plan
        | "profile" -> profile plan t
        | "trainprofile" -> trainProfile plan
        | "scale-ann"
        | "scale-snn"
        | "scale-phase2" -> ScaleMeasure.measure plan part t
        | other ->
            raise (
                ArgumentException(
                    $"--only = {other} is not a measurement: expected sim, simpeak, train or phase2",
                    "only"
                )
            )

    // The parent reports the exit code; the child says exactly what failed.
    let result = ErrorBoundary.withStep $"bench --only {part}" measure

    result["peak_working_set_mb"] <- JsonValue.Create(peakWorkingSetMb ())
    result["threads"] <- JsonValue.Create(torch.get_num_threads ())
    File.WriteAllText(reportTo, result.ToJsonString())
    0
