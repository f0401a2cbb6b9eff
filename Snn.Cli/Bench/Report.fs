/// What `snn bench` prints and writes: the header and the table of simulation figures, the
/// training and Phase II lines, bench.json, and the targets checked.
module Snn.Cli.Bench.Report

open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Snn.Cli.Bench.Args
open Snn.Cli.Bench.Measure
open Snn.Cli.Bench.Figures
open Snn.Cli.Bench.Targets

/// Where the kernels run, as the header and bench.json say.
let kernelThreads =
    if Snn.Core.Native.TorchThreads.UsesTorchTeam then
        "libtorch's OpenMP team"
    else
        ".NET's thread pool"

/// The network simulated, as the header and bench.json say.
let sourceOfSimulation =
    "fmnistVgg with its default seeded initialisation (seed 0), clip thresholds 5.0, batch norm folded and converted "
    + "with v(0) = theta/2; the simulation is dense, so its cost does not depend on spike activity."

/// The lines before the table, and the table's header.
let printHeader (plan: Plan) (cores: int) =
    printfn
        "snn bench%s: fmnist-vgg, test set batches of %d, inference mode; %d cores"
        (if plan.Quick then " --quick" else "")
        simBatch
        cores

    printfn "network: %s" sourceOfSimulation

    printfn
        "timing: median of %d repetitions x %d processes, pooled (min-max in brackets), our simulator, the naive loop and the ANN interleaved batch by batch; training: median of %d repetitions, the three networks interleaved batch by batch"
        plan.Repeats
        plan.SimProcesses
        plan.TrainRepeats

    printfn "each measurement runs in its own process; peak working set = that process's VmHWM"

    printfn
        "kernels (neuron scan, clip / QC activations) run on %s; malloc thresholds %s"
        kernelThreads
        (if Snn.Core.Native.NativeAllocator.Tuned then
             "fixed (Snn.Core.Native.NativeAllocator)"
         else
             "glibc's defaults")

    printfn ""

    printfn
        "%4s %22s %22s %7s %9s %9s %9s %8s"
        "T"
        "sim_ratio"
        "naive_ratio"
        "agree"
        "img/s"
        "naive"
        "ANN img/s"
        "peak MB"

/// One row of the table: the merged simulation figures at one T.
let printSim (s: JsonObject) =
    printfn
        "%4d %8.3f [%5.3f-%5.3f] %8.3f [%5.3f-%5.3f] %7.4f %9.0f %9.0f %9.0f %8.0f"
        (int (num s "T"))
        (num s "ratio")
        (num s "ratio_min")
        (num s "ratio_max")
        (num s "naive_ratio")
        (num s "naive_ratio_min")
        (num s "naive_ratio_max")
        (num s "agree")
        (num s "images_per_second")
        (num s "naive_images_per_second")
        (num s "ann_images_per_second")
        (num s "peak_working_set_mb")

/// The line of our simulator alone at T = 32.
let printSimPeak (peak: JsonObject) =
    printfn
        "our simulator alone at T=32 on %d test images: peak working set %.0f MB, %.0f images/s"
        (int (num peak "images"))
        (num peak "peak_working_set_mb")
        (num peak "images_per_second")

/// The training lines.
let printTrain (train: JsonObject) =
    printfn
        "training (%d batches of %d, same batches for each network, extrapolated to %d batches per epoch):"
        (int (num train "batches"))
        trainBatch
        (int (num train "batches_per_epoch"))

    printfn
        "  epoch ReLU %.1f s, clip %.1f s, noisy QC %.1f s; clip/ReLU %.3f [%.3f-%.3f], noisy-QC/ReLU %.3f [%.3f-%.3f]"
        (num train "relu_epoch_s")
        (num train "clip_epoch_s")
        (num train "noisy_qc_epoch_s")
        (num train "clip")
        (num train "clip_min")
        (num train "clip_max")
        (num train "noisy_qc")
        (num train "noisy_qc_min")
        (num train "noisy_qc_max")

    printfn
        "  data loading of one epoch %.1f s; %.0f training images/s (clip); peak working set %.0f MB"
        (num train "data_loading_epoch_s")
        (num train "images_per_second")
        (num train "peak_working_set_mb")

/// The phase2_share line of a share recorded by a pipeline run.
let printPhase2Recorded (share: float) (source: string) (p1: float) (p2: float) =
    printfn "phase2_share = %.3f (MEASURED by the pipeline: %s, Phase I %.0f s, Phase II %.0f s)" share source p1 p2

/// The phase2_share line of the estimate (`--only phase2`) made when no run recorded it.
let printPhase2Estimate (p: JsonObject) (resultsPath: string) =
    let secs = p["phase2_seconds"].AsObject()

    printfn
        "phase2_share = %.3f (ESTIMATED, no %s: Phase II measured at T=1, T=2,4 as T x that: %s s; one Phase-I epoch %.1f s x %d epochs)"
        (num p "share")
        resultsPath
        (secs
         |> Seq.map (fun kv -> $"{kv.Value.GetValue<float>():F1}")
         |> String.concat " + ")
        (num p "phase1_epoch_seconds")
        (int (num p "phase1_epochs"))

/// The targets line and one line per target.
let printTargets (targets: Target list) =
    printfn "targets: %s" summary

    for t in targets do
        printfn "  %-44s %s" t.Name (if t.Holds then "holds" else "DOES NOT HOLD")

/// Writes bench.json: the run's sizes, every figure measured, and the peak working set of each
/// measurement's process.
let writeJson
    (out: string)
    (plan: Plan)
    (cores: int)
    (sims: JsonObject list)
    (peak: JsonObject)
    (train: JsonObject)
    (phase2: Phase2Figures)
    (wallSeconds: float)
    =
    let peaks =
        JsonObject(
            dict
                [ yield!
                      sims
                      |> List.map (fun s ->
                          let t = int (num s "T")
                          $"sim_T{t}_with_naive", JsonValue.Create(num s "peak_working_set_mb") :> JsonNode)
                  "sim_T32", JsonValue.Create(num peak "peak_working_set_mb")
                  "train", JsonValue.Create(num train "peak_working_set_mb")
                  match phase2.Peak with
                  | Some mb -> "phase2", JsonValue.Create mb
                  | None -> () ]
        )

    let simArray = JsonArray()

    for s in sims do
        simArray.Add(JsonNode.Parse(s.ToJsonString()))

    let bench =
        JsonObject(
            dict
                [ "cores", JsonValue.Create cores :> JsonNode
                  "kernel_threads", JsonValue.Create kernelThreads
                  "malloc_tuned", JsonValue.Create Snn.Core.Native.NativeAllocator.Tuned
                  "batch", JsonValue.Create simBatch
                  "quick", JsonValue.Create plan.Quick
                  "repeats", JsonValue.Create plan.Repeats
                  "train_repeats", JsonValue.Create plan.TrainRepeats
                  "sim_processes", JsonValue.Create plan.SimProcesses
                  "network", JsonValue.Create sourceOfSimulation
                  "sim", simArray
                  "train_epoch_ratio",
                  JsonObject(
                      dict
                          [ "clip", JsonValue.Create(num train "clip") :> JsonNode
                            "noisy_qc", JsonValue.Create(num train "noisy_qc") ]
                  )
                  "train", JsonNode.Parse(train.ToJsonString())
                  "phase2_share", JsonValue.Create phase2.Share
                  "phase2", JsonNode.Parse(phase2.Node.ToJsonString())
                  "peak_working_set_mb", peaks
                  "wall_seconds", JsonValue.Create wallSeconds ]
        )

    File.WriteAllText(out, bench.ToJsonString(JsonSerializerOptions(WriteIndented = true)))
