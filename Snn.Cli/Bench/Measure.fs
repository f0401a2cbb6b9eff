/// What every bench measurement shares: the sizes, timing and statistics helpers, the network
/// that is simulated and trained (fmnistVgg), and the Fashion-MNIST batches.
module Snn.Cli.Bench.Measure

open System
open System.Diagnostics
open System.IO
open System.Text.Json.Nodes
open TorchSharp
open Snn.Core.Data
open Snn.Core.Simulation
open Snn.Dsl
open Snn.Cli.Bench.Args

let timeSteps = [ 1; 2; 4; 8; 16; 32 ]
let simBatch = 256L
let trainBatch = 128

let median (xs: float list) =
    let s = List.sort xs
    let n = s.Length

    if n % 2 = 1 then
        s[n / 2]
    else
        (s[n / 2 - 1] + s[n / 2]) / 2.0

/// Peak resident set of this process in MB: VmHWM from /proc/self/status (Linux), else the
/// runtime's PeakWorkingSet64.
let peakWorkingSetMb () =
    let fromProc =
        try
            File.ReadLines "/proc/self/status"
            |> Seq.tryFind (fun l -> l.StartsWith "VmHWM:")
            |> Option.map (fun l -> float (l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0)
        with _ ->
            None

    match fromProc with
    | Some mb -> mb
    | None -> float (Process.GetCurrentProcess().PeakWorkingSet64) / 1048576.0

/// xs started at index k and wrapped around: the rotating order of interleaved measurements.
let rotated k (xs: 'a list) = xs[k..] @ xs[.. k - 1]

let seconds (f: unit -> unit) =
    let w = Stopwatch.StartNew()
    f ()
    w.Elapsed.TotalSeconds

let log (s: string) = Console.Error.WriteLine s

let disposeAll (xs: torch.Tensor[]) =
    for x in xs do
        x.Dispose()

let floats (xs: float list) : JsonNode =
    JsonArray(xs |> List.map (fun x -> JsonValue.Create x :> JsonNode) |> Array.ofList)

// ---------------------------------------------------------------------------------------------
// Networks

let compileOrFail activation spec =
    match Compile.compile activation spec with
    | Ok n -> n
    | Error es -> failwithf "fmnistVgg does not compile: %A" es

/// fmnistVgg with clip thresholds 5.0 and the default (seeded) initialisation, batch norm
/// folded, in evaluation mode: the network that converts.
let foldedClipNetwork () =
    torch.manual_seed 0L |> ignore
    use trained = compileOrFail (Clip 5.0) Presets.fmnistVgg
    trained.eval ()
    Fold.foldBatchNorm trained

let spikingOf (folded: CompiledNetwork) =
    match Convert.toSpiking ConversionOptions.Default folded with
    | Ok s -> s
    | Error es -> failwithf "conversion failed: %A" es

let loadSplits (plan: Plan) =
    DataSplits.Load(DatasetKind.FashionMnist, Option.toObj plan.DataPath, 5000, 224)

/// The first `count` test batches of 256 (normalised, no augmentation).
let testBatches (splits: DataSplits) count =
    let loader =
        BatchLoader(splits.Test, int simBatch, false, Normalization.FashionMnist)

    loader.Epoch 0
    |> Seq.truncate count
    |> Seq.map (fun struct (x, y) ->
        y.Dispose()
        x)
    |> Seq.toArray

let sgd (model: CompiledNetwork) =
    torch.optim.SGD(model.parameters (), 0.05, momentum = 0.9, weight_decay = 5e-4)
