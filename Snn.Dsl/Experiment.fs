/// An experiment as a value: data, network, pipeline, seed, output folder and profile. It
/// serialises to and from JSON (System.Text.Json nodes, one explicit encoder and decoder per
/// type), so a report records exactly what ran and a JSON file can drive a run.
namespace Snn.Dsl

open System.IO
open System.Text.Json
open System.Text.Json.Nodes

type Dataset =
    | FashionMnist
    | Mnist
    | Cifar10
    | Cifar100
    | ImageNet1k

/// Where the data comes from and how much of it a run uses.
type Data =
    {
        Dataset: Dataset
        /// None: the default location (e.g. /usr/share/datasets/fashion-mnist).
        Path: string option
        /// Use only the first n training images (None: the whole training split).
        TrainImages: int option
        /// Evaluate spiking networks on only the first n test images (None: the whole test
        /// split). ANNs are always evaluated on the whole test split.
        TestImages: int option
    }

type NetworkChoice =
    | PresetNetwork of Preset
    | CustomNetwork of NetworkSpec

/// The named profiles of BENCHMARKS.md, or any other label.
type Profile =
    | Quick
    | Bench
    | Paper
    | Custom of name: string

type Experiment =
    { Name: string
      Data: Data
      Network: NetworkChoice
      Pipeline: Phase list
      Seed: int
      OutputFolder: string
      Profile: Profile }

module Experiment =

    // ---- encoding --------------------------------------------------------------------------

    let private o (fields: (string * JsonNode) list) =
        let obj = JsonObject()

        for k, v in fields do
            obj[k] <- v

        obj :> JsonNode

    let private i (v: int) = JsonValue.Create v :> JsonNode
    let private f (v: float) = JsonValue.Create v :> JsonNode
    let private s (v: string) = JsonValue.Create v :> JsonNode
    let private b (v: bool) = JsonValue.Create v :> JsonNode

    let private opt enc v =
        match v with
        | Some x -> enc x
        | None -> null

    let private arr enc xs =
        JsonArray(xs |> List.map enc |> List.toArray) :> JsonNode

    let private shape (x: Shape) =
        match x with
        | Image(c, h, w) -> o [ "kind", s "image"; "channels", i c; "height", i h; "width", i w ]
        | Vector n -> o [ "kind", s "vector"; "features", i n ]

    let private pool kind (p: Pool) =
        o
            [ "kind", s kind
              "kernel", i p.Kernel
              "stride", i p.Stride
              "padding", i p.Padding ]

    let private shortcutName x =
        match x with
        | Auto -> "auto"
        | Identity -> "identity"
        | Projection -> "projection"

    let private layer (l: Layer) =
        match l with
        | Conv c ->
            o
                [ "kind", s "conv"
                  "out_channels", i c.OutChannels
                  "kernel", i c.Kernel
                  "stride", i c.Stride
                  "padding", i c.Padding
                  "dilation", i c.Dilation
                  "groups", i c.Groups
                  "bias", b c.Bias
                  "in_channels", opt i c.InChannels ]
        | AvgPool p -> pool "avgPool" p
        | MaxPool p -> pool "maxPool" p
        | Linear l ->
            o
                [ "kind", s "linear"
                  "out_features", i l.OutFeatures
                  "bias", b l.Bias
                  "in_features", opt i l.InFeatures ]
        | Dropout p -> o [ "kind", s "dropout"; "p", f p ]
        | Residual r ->
            o
                [ "kind", s "residual"
                  "out_channels", i r.OutChannels
                  "stride", i r.Stride
                  "shortcut", s (shortcutName r.Shortcut)
                  "batch_norm", b r.BatchNorm ]
        | BatchNorm
        | Act
        | GlobalAvgPool
        | Flatten -> o [ "kind", s l.KindName ]

    let private resnetInputName x =
        match x with
        | Cifar -> "cifar"
        | ImageNet MaxStemPool -> "imagenet"
        | ImageNet AvgStemPool -> "imagenet-avgpool"

    let private preset (p: Preset) =
        match p with
        | FmnistVgg -> o [ "name", s "fmnist-vgg" ]
        | Vgg16 c -> o [ "name", s "vgg16"; "classes", i c ]
        | ResNet20 c -> o [ "name", s "resnet20"; "classes", i c ]
        | ResNet18(x, c) -> o [ "name", s "resnet18"; "input", s (resnetInputName x); "classes", i c ]
        | ResNet34(x, c) -> o [ "name", s "resnet34"; "input", s (resnetInputName x); "classes", i c ]

    let private sgd (x: Sgd) =
        o
            [ "learning_rate", f x.LearningRate
              "momentum", f x.Momentum
              "weight_decay", f x.WeightDecay
              "schedule",
              s (
                  match x.Schedule with
                  | Cosine -> "cosine"
                  | Constant -> "constant"
              )
              "batch_size", i x.BatchSize ]

    let private phase (p: Phase) =
        let named fields = o (("phase", s p.Name) :: fields)

        match p with
        | TrainRelu t -> named [ "epochs", i t.Epochs; "optimizer", sgd t.Optimizer ]
        | TrainClip t ->
            named
                [ "epochs", i t.Epochs
                  "optimizer", sgd t.Optimizer
                  "initial_threshold", f t.InitialThreshold ]
        | FoldBatchNorm -> named []
        | FineTuneQC x ->
            named
                [ "time_steps", arr i x.TimeSteps
                  "epochs", i x.Epochs
                  "optimizer", sgd x.Optimizer
                  "noise_probability", f x.NoiseProbability
                  "fit_thresholds", JsonValue.Create x.FitThresholds :> JsonNode ]
        | CalibratePotential c -> named [ "calibration_images", i c.CalibrationImages ]
        | CalibrateWeights c ->
            named
                [ "learning_rate", f c.LearningRate
                  "epochs", i c.Epochs
                  "batch_size", i c.BatchSize
                  "initial_alpha", f c.InitialAlpha
                  "calibration_images", i c.CalibrationImages
                  "early_stopping_images", i c.EarlyStoppingImages
                  "patience", i c.Patience ]
        | Evaluate ts -> named [ "time_steps", arr i ts ]
        | Qcfs q ->
            named
                [ "levels", i q.Levels
                  "initial_threshold", f q.InitialThreshold
                  "epochs", i q.Epochs
                  "optimizer", sgd q.Optimizer
                  "time_steps", arr i q.TimeSteps ]

    let private datasetName d =
        match d with
        | FashionMnist -> "fashion-mnist"
        | Mnist -> "mnist"
        | Cifar10 -> "cifar10"
        | Cifar100 -> "cifar100"
        | ImageNet1k -> "imagenet"

    let private profileName p =
        match p with
        | Quick -> "quick"
        | Bench -> "bench"
        | Paper -> "paper"
        | Custom name -> "custom:" + name

    /// The experiment as a JSON node (to embed, e.g., in results.json).
    let toNode (e: Experiment) : JsonNode =
        o
            [ "name", s e.Name
              "data",
              o
                  [ "dataset", s (datasetName e.Data.Dataset)
                    "path", opt s e.Data.Path
                    "train_images", opt i e.Data.TrainImages
                    "test_images", opt i e.Data.TestImages ]
              "network",
              (match e.Network with
               | PresetNetwork p -> o [ "preset", preset p ]
               | CustomNetwork spec -> o [ "input", shape spec.Input; "layers", arr layer spec.Layers ])
              "pipeline", arr phase e.Pipeline
              "seed", i e.Seed
              "output_folder", s e.OutputFolder
              "profile", s (profileName e.Profile) ]

    /// The experiment as indented JSON text.
    let toJson (e: Experiment) =
        (toNode e).ToJsonString(JsonSerializerOptions(WriteIndented = true))

    // ---- decoding: every failure names the JSON path and what was expected ------------------

    exception private DecodeError of string

    let private fail (path: string) (expected: string) =
        raise (DecodeError $"%s{path}: expected %s{expected}")

    let private asObj path (n: JsonNode) =
        match n with
        | :? JsonObject as x -> x
        | _ -> fail path "an object"

    let private optField (_path: string) (x: JsonObject) (name: string) : JsonNode option =
        let mutable v: JsonNode = null

        if x.TryGetPropertyValue(name, &v) && not (isNull v) then
            Some v
        else
            None

    let private field path (x: JsonObject) (name: string) : JsonNode =
        match optField path x name with
        | Some v -> v
        | None -> fail $"%s{path}.%s{name}" "a value (the field is missing)"

    let private value<'T> what path (n: JsonNode) : 'T =
        match n with
        | :? JsonValue as v ->
            match v.TryGetValue<'T>() with
            | true, x -> x
            | _ -> fail path what
        | _ -> fail path what

    let private gi path (x: JsonObject) name =
        value<int> "an integer" $"%s{path}.%s{name}" (field path x name)

    let private gf path (x: JsonObject) name =
        value<float> "a number" $"%s{path}.%s{name}" (field path x name)

    let private gs path (x: JsonObject) name =
        value<string> "a string" $"%s{path}.%s{name}" (field path x name)

    let private gb path (x: JsonObject) name =
        value<bool> "true or false" $"%s{path}.%s{name}" (field path x name)

    let private goi path (x: JsonObject) name =
        optField path x name
        |> Option.map (value<int> "an integer or null" $"%s{path}.%s{name}")

    let private gos path (x: JsonObject) name =
        optField path x name
        |> Option.map (value<string> "a string or null" $"%s{path}.%s{name}")

    let private garr path (x: JsonObject) name (dec: string -> JsonNode -> 'a) =
        let p = $"%s{path}.%s{name}"

        match field path x name with
        | :? JsonArray as a -> a |> Seq.mapi (fun k n -> dec $"%s{p}[%d{k}]" n) |> List.ofSeq
        | _ -> fail p "an array"

    let private dshape path n =
        let x = asObj path n

        match gs path x "kind" with
        | "image" -> Image(gi path x "channels", gi path x "height", gi path x "width")
        | "vector" -> Vector(gi path x "features")
        | k -> fail $"%s{path}.kind" $"\"image\" or \"vector\", got \"%s{k}\""

    let private dpool path x =
        { Kernel = gi path x "kernel"
          Stride = gi path x "stride"
          Padding = gi path x "padding" }

    let private dlayer path n =
        let x = asObj path n

        match gs path x "kind" with
        | "conv" ->
            Conv
                { OutChannels = gi path x "out_channels"
                  Kernel = gi path x "kernel"
                  Stride = gi path x "stride"
                  Padding = gi path x "padding"
                  Dilation = goi path x "dilation" |> Option.defaultValue 1
                  Groups = goi path x "groups" |> Option.defaultValue 1
                  Bias = gb path x "bias"
                  InChannels = goi path x "in_channels" }
        | "bn" -> BatchNorm
        | "act" -> Act
        | "avgPool" -> AvgPool(dpool path x)
        | "maxPool" -> MaxPool(dpool path x)
        | "globalAvgPool" -> GlobalAvgPool
        | "flatten" -> Flatten
        | "linear" ->
            Linear
                { OutFeatures = gi path x "out_features"
                  Bias = gb path x "bias"
                  InFeatures = goi path x "in_features" }
        | "dropout" -> Dropout(gf path x "p")
        | "residual" ->
            Residual
                { OutChannels = gi path x "out_channels"
                  Stride = gi path x "stride"
                  Shortcut =
                    match gs path x "shortcut" with
                    | "auto" -> Auto
                    | "identity" -> Identity
                    | "projection" -> Projection
                    | k -> fail $"%s{path}.shortcut" $"\"auto\", \"identity\" or \"projection\", got \"%s{k}\""
                  BatchNorm = gb path x "batch_norm" }
        | k ->
            fail
                $"%s{path}.kind"
                $"a layer kind (conv, bn, act, avgPool, maxPool, globalAvgPool, flatten, linear, dropout, residual), got \"%s{k}\""

    let private dresnetInput path name =
        match name with
        | "cifar" -> Cifar
        | "imagenet" -> ImageNet MaxStemPool
        | "imagenet-avgpool" -> ImageNet AvgStemPool
        | k -> fail path $"\"cifar\", \"imagenet\" or \"imagenet-avgpool\", got \"%s{k}\""

    let private dpreset path n =
        let x = asObj path n

        match gs path x "name" with
        | "fmnist-vgg" -> FmnistVgg
        | "vgg16" -> Vgg16(gi path x "classes")
        | "resnet20" -> ResNet20(gi path x "classes")
        | "resnet18" -> ResNet18(dresnetInput $"%s{path}.input" (gs path x "input"), gi path x "classes")
        | "resnet34" -> ResNet34(dresnetInput $"%s{path}.input" (gs path x "input"), gi path x "classes")
        | k -> fail $"%s{path}.name" $"a preset (fmnist-vgg, vgg16, resnet20, resnet18, resnet34), got \"%s{k}\""

    let private dsgd path n =
        let x = asObj path n

        { LearningRate = gf path x "learning_rate"
          Momentum = gf path x "momentum"
          WeightDecay = gf path x "weight_decay"
          Schedule =
            match gs path x "schedule" with
            | "cosine" -> Cosine
            | "constant" -> Constant
            | k -> fail $"%s{path}.schedule" $"\"cosine\" or \"constant\", got \"%s{k}\""
          BatchSize = gi path x "batch_size" }

    let private dint path n = value<int> "an integer" path n

    let private dphase path n =
        let x = asObj path n
        let opt' = $"%s{path}.optimizer"

        match gs path x "phase" with
        | "trainRelu" ->
            TrainRelu
                { Epochs = gi path x "epochs"
                  Optimizer = dsgd opt' (field path x "optimizer") }
        | "trainClip" ->
            TrainClip
                { Epochs = gi path x "epochs"
                  Optimizer = dsgd opt' (field path x "optimizer")
                  InitialThreshold = gf path x "initial_threshold" }
        | "foldBatchNorm" -> FoldBatchNorm
        | "fineTuneQC" ->
            FineTuneQC
                { TimeSteps = garr path x "time_steps" dint
                  Epochs = gi path x "epochs"
                  Optimizer = dsgd opt' (field path x "optimizer")
                  NoiseProbability = gf path x "noise_probability"
                  FitThresholds = gb path x "fit_thresholds" }
        | "calibratePotential" -> CalibratePotential { CalibrationImages = gi path x "calibration_images" }
        | "calibrateWeights" ->
            CalibrateWeights
                { LearningRate = gf path x "learning_rate"
                  Epochs = gi path x "epochs"
                  BatchSize = gi path x "batch_size"
                  InitialAlpha = gf path x "initial_alpha"
                  CalibrationImages = gi path x "calibration_images"
                  EarlyStoppingImages = gi path x "early_stopping_images"
                  Patience = gi path x "patience" }
        | "evaluate" -> Evaluate(garr path x "time_steps" dint)
        | "qcfs" ->
            Qcfs
                { Levels = gi path x "levels"
                  InitialThreshold = gf path x "initial_threshold"
                  Epochs = gi path x "epochs"
                  Optimizer = dsgd opt' (field path x "optimizer")
                  TimeSteps = garr path x "time_steps" dint }
        | k ->
            fail
                $"%s{path}.phase"
                $"a phase (trainRelu, trainClip, foldBatchNorm, fineTuneQC, calibratePotential, calibrateWeights, evaluate, qcfs), got \"%s{k}\""

    let private ddataset path name =
        match name with
        | "fashion-mnist" -> FashionMnist
        | "mnist" -> Mnist
        | "cifar10" -> Cifar10
        | "cifar100" -> Cifar100
        | "imagenet" -> ImageNet1k
        | k -> fail path $"a dataset (fashion-mnist, mnist, cifar10, cifar100, imagenet), got \"%s{k}\""

    let private dprofile (name: string) =
        match name with
        | "quick" -> Quick
        | "bench" -> Bench
        | "paper" -> Paper
        | n when n.StartsWith "custom:" -> Custom(n.Substring 7)
        | n -> Custom n

    /// Reads an experiment from a JSON node; the error names the JSON path and what was expected.
    let fromNode (node: JsonNode) : Result<Experiment, string> =
        try
            let p = "experiment"
            let x = asObj p node
            let data = asObj $"%s{p}.data" (field p x "data")
            let dp = $"%s{p}.data"
            let net = asObj $"%s{p}.network" (field p x "network")
            let np = $"%s{p}.network"

            Ok
                { Name = gs p x "name"
                  Data =
                    { Dataset = ddataset $"%s{dp}.dataset" (gs dp data "dataset")
                      Path = gos dp data "path"
                      TrainImages = goi dp data "train_images"
                      TestImages = goi dp data "test_images" }
                  Network =
                    match optField np net "preset" with
                    | Some pr -> PresetNetwork(dpreset $"%s{np}.preset" pr)
                    | None ->
                        CustomNetwork
                            { Input = dshape $"%s{np}.input" (field np net "input")
                              Layers = garr np net "layers" dlayer }
                  Pipeline = garr p x "pipeline" dphase
                  Seed = gi p x "seed"
                  OutputFolder = gs p x "output_folder"
                  Profile = dprofile (gs p x "profile") }
        with DecodeError m ->
            Error m

    /// Reads an experiment from JSON text.
    let fromJson (json: string) : Result<Experiment, string> =
        let node =
            try
                Ok(JsonNode.Parse json)
            with :? JsonException as ex ->
                Error $"not valid JSON: %s{ex.Message}"

        node
        |> Result.bind (fun n ->
            if isNull n then
                Error "expected a JSON object, got null"
            else
                fromNode n)

    /// Writes the experiment as indented JSON to `path`.
    let save (path: string) (e: Experiment) = File.WriteAllText(path, toJson e)

    /// Reads an experiment from a JSON file; errors name the file and what was expected.
    let load (path: string) : Result<Experiment, string> =
        if not (File.Exists path) then
            Error $"%s{path}: file not found (expected an experiment JSON file)"
        else
            fromJson (File.ReadAllText path)
            |> Result.mapError (fun m -> $"%s{path}: %s{m}")

    /// The network spec an experiment runs.
    let spec (e: Experiment) =
        match e.Network with
        | PresetNetwork p -> Presets.spec p
        | CustomNetwork s -> s

    /// Validates the network, the pipeline and the data limits; returns every error message.
    let validate (e: Experiment) : Result<Experiment, string list> =
        let network = Network.validate (spec e) |> Network.messages

        let pipeline =
            match Phases.validate e.Pipeline with
            | Ok _ -> []
            | Error es -> es |> List.map _.Message

        let data =
            [ for what, v in [ "train images", e.Data.TrainImages; "test images", e.Data.TestImages ] do
                  match v with
                  | Some n when n < 1 -> $"data: %s{what} = %d{n} is out of range: expected >= 1 (or null for all)"
                  | _ -> () ]

        match network @ pipeline @ data with
        | [] -> Ok e
        | errors -> Error errors

/// The three profiles of BENCHMARKS.md for the fmnist-vgg experiment.
module Profiles =

    let private fmnist profile folder trainImages pipeline =
        { Name = "fmnist-vgg"
          Data =
            { Dataset = FashionMnist
              Path = None
              TrainImages = trainImages
              TestImages = None }
          Network = PresetNetwork FmnistVgg
          Pipeline = pipeline
          Seed = 0
          OutputFolder = folder
          Profile = profile }

    /// `quick`, the README's default run, budgeted for at most 25 minutes on 2 cores: the first
    /// 10,000 of the 55,000 training images; ReLU, clip and QCFS training 2 epochs each;
    /// noisy-QC fine-tuning 1 epoch per T in {1, 2, 4}; Phase II at those T with 256 calibration
    /// and 128 early-stopping images (held-out split) and 1 weight-calibration epoch per layer
    /// (Phase II costs grow with T and images: at T = 8 it took 338 s with 512 + 256 images and
    /// 2 epochs); ANNs evaluated on the full test set, SNNs (T in {1, ..., 32}) on the first 1,000
    /// test images.
    let quick =
        let pipeline =
            Phases.dualPhase 2 1 [ 1; 2; 4 ]
            |> List.map (function
                | CalibratePotential _ -> CalibratePotential { CalibrationImages = 256 }
                | CalibrateWeights c ->
                    CalibrateWeights
                        { c with
                            Epochs = 1
                            CalibrationImages = 256
                            EarlyStoppingImages = 128 }
                | p -> p)

        { fmnist Quick "runs/quick" (Some 10000) pipeline with
            Data =
                { Dataset = FashionMnist
                  Path = None
                  TrainImages = Some 10000
                  TestImages = Some 1000 } }

    /// `bench`, the comparison profile: all 55,000 training images, E = 10, F = 3.
    let bench = fmnist Bench "runs/bench" None (Phases.dualPhase 10 3 [ 1; 2; 4 ])

    /// `paper`: all 55,000 training images, E = 30, F = 10.
    let paper = fmnist Paper "runs/paper" None (Phases.dualPhase 30 10 [ 1; 2; 4 ])

    /// `tiny`, a smoke test of the whole pipeline in about a minute (its numbers mean nothing):
    /// 1,024 training images, 512 test images, one epoch of everything, T in {1, 2}, Phase II
    /// with 256 calibration and 128 early-stopping images and one weight-calibration epoch.
    let tiny =
        let pipeline =
            [ Phases.trainRelu 1
              Phases.trainClip 1
              Phases.foldBatchNorm
              Phases.fineTuneQC [ 1; 2 ] 1
              CalibratePotential { CalibrationImages = 256 }
              (match Phases.calibrateWeights with
               | CalibrateWeights c ->
                   CalibrateWeights
                       { c with
                           Epochs = 1
                           CalibrationImages = 256
                           EarlyStoppingImages = 128 }
               | p -> p)
              CalibratePotential { CalibrationImages = 256 }
              Phases.evaluate [ 1; 2 ]
              (match Phases.qcfs 1 with
               | Qcfs q -> Qcfs { q with TimeSteps = [ 1; 2 ] }
               | p -> p) ]

        { fmnist (Custom "tiny") "runs/tiny" (Some 1024) pipeline with
            Data =
                { Dataset = FashionMnist
                  Path = None
                  TrainImages = Some 1024
                  TestImages = Some 512 } }

    let all = [ quick; bench; paper ]
