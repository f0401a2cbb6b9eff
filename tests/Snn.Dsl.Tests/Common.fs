/// Named tolerances and the generators shared by the test files.
module Snn.Dsl.Tests.Common

open FsCheck
open FsCheck.FSharp
open Snn.Dsl
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps

/// Tolerances, named once.
module Tolerance =
    /// Max |folded - original| of eval outputs, computed in float64.
    let fold = 1e-5
    /// Max |y - QC_L(x)| of a compiled QC activation in eval, float32 arithmetic.
    let qc = 1e-5
    /// Relative difference of two mean squares over the same float32 values summed in a different
    /// order and precision (float64 per chunk against this test's float64 tensor mean).
    let meanSquare = 1e-6
    /// Max |imported network - ONNX Runtime| of float32 outputs of magnitude up to about 10 (the
    /// two libraries sum convolutions in different orders).
    let onnx = 1e-4
    /// Relative difference of an exact binomial tail (summed in log space) from MathNet's
    /// Binomial.CDF (a regularized incomplete beta): both exact to rounding, n up to 10^4.
    let binomialTail = 1e-9
    /// Relative difference of a Clopper-Pearson bound from MathNet's Beta.InvCDF, whose root
    /// finder stops at about 1e-8 relative (measured: 1.2e-8 for 1 of 10,000).
    let betaInverse = 1e-7
    /// Absolute difference from a value printed with seven decimals in a published table.
    let sevenDecimals = 5e-8
    /// Relative difference of an interval bound from its closed form: the tails are sums of
    /// exp(ln n! - ln k! - ln (n-k)! + ...), whose log-factorial differences lose ulp(n ln n)
    /// (1.5e-11 for n = 10^4); the bisection itself goes to the last bit.
    let closedForm = 1e-10
    /// Relative difference of a binomial tail at a Clopper-Pearson bound from alpha / 2 (the bound
    /// is exact to the last bit of p; the tail's relative slope there is up to about n).
    let tailAtBound = 1e-9
    /// Relative difference of the two sides of the Wilson score equation (k - n p)^2 = z^2 n p (1 - p)
    /// at a bound computed in closed form (a few roundings of terms up to n + z^2, n up to 10^4).
    let scoreEquation = 1e-9
    /// Relative difference of a probability computed through exp(log) from its exact fraction.
    let exactFraction = 1e-14
    /// Absolute rounding of a sum of a few hundred probabilities.
    let probabilitySum = 1e-12

/// Runs `f` with the thread's culture set to `name` (say "de-DE", which writes 92,18), then
/// restores it: for the figures that must read the same in every locale.
let inCulture (name: string) (f: unit -> 'a) =
    let before = System.Globalization.CultureInfo.CurrentCulture
    System.Globalization.CultureInfo.CurrentCulture <- System.Globalization.CultureInfo.GetCultureInfo name

    try
        f ()
    finally
        System.Globalization.CultureInfo.CurrentCulture <- before

/// The repository root: the first ancestor of the test binary that holds Research.sln.
let repoRoot () =
    let rec up (dir: System.IO.DirectoryInfo) =
        if isNull dir then
            failwith $"Research.sln not found above %s{System.AppContext.BaseDirectory}"
        elif System.IO.File.Exists(System.IO.Path.Combine(dir.FullName, "Research.sln")) then
            dir.FullName
        else
            up dir.Parent

    up (System.IO.DirectoryInfo System.AppContext.BaseDirectory)

/// Fixed small specs shared by several test files.
module Specs =
    open Snn.Dsl.Network

    /// conv-act, one residual block (stride 2, projection shortcut, no batch norm), flatten, linear:
    /// three spiking layers (act, the block's act1 and act2), no folding needed.
    let residualBlock =
        network
            (Image(2, 8, 8))
            [ conv 4
              act
              Residual
                  { OutChannels = 6
                    Stride = 2
                    Shortcut = Auto
                    BatchNorm = false }
              flatten
              linear 3 ]

/// Small random networks, valid by construction where the shapes allow, with a simple model:
/// the number of BN layers and of weighted layers they contain.
module Generators =

    /// Counts of a binomial experiment: n trials (1 to 10,000, small n often) and k of them
    /// successes, k in [0, n] with the ends drawn often.
    let counts: Gen<int * int> =
        gen {
            let! n = Gen.oneof [ Gen.choose (1, 30); Gen.choose (1, 10000) ]
            let! k = Gen.frequency [ 1, Gen.constant 0; 1, Gen.constant n; 6, Gen.choose (0, n) ]
            return n, k
        }

    /// Discordant counts of a paired test (b, c), each 0 to 2,000.
    let discordant: Gen<int * int> =
        let count = Gen.oneof [ Gen.choose (0, 12); Gen.choose (0, 2000) ]
        Gen.zip count count

    /// Per-image results (0 to 600 images, lengths off multiples of 8 often) and the sizes of the
    /// consecutive parts (1 to 5, some empty) they are cut into.
    let perImageParts: Gen<bool[] * int list> =
        gen {
            let! n = Gen.oneof [ Gen.choose (0, 20); Gen.choose (0, 600) ]
            let! hits = Gen.arrayOfLength n (Gen.elements [ true; false ])
            let! parts = Gen.choose (1, 5)
            let! cuts = Gen.listOfLength (parts - 1) (Gen.choose (0, n))
            let bounds = 0 :: List.sort cuts @ [ n ]
            return hits, List.pairwise bounds |> List.map (fun (a, b) -> b - a)
        }

    let private convBnAct =
        gen {
            let! ch = Gen.choose (1, 6)
            let! k = Gen.elements [ 1; 3 ]
            let! stride = Gen.elements [ 1; 2 ]
            let! bias = Gen.elements [ true; false ]
            // Grouped and dilated convs too (specs where groups do not divide are filtered out).
            let! groups = Gen.elements [ 1; 1; 1; 2 ]
            let! dilation = Gen.elements [ 1; 1; 2 ]

            return
                [ convFull (ch * groups) k stride (dilation * (k / 2)) dilation groups bias
                  bn
                  act ]
        }

    let private block =
        Gen.frequency
            [ 4, convBnAct
              2,
              gen {
                  let! ch = Gen.choose (1, 6)
                  let! stride = Gen.elements [ 1; 2 ]
                  let! shortcut = Gen.elements [ Auto; Projection ]

                  return
                      [ Residual
                            { OutChannels = ch
                              Stride = stride
                              Shortcut = shortcut
                              BatchNorm = true } ]
              }
              1, Gen.constant [ avgPool 2 ]
              1, Gen.constant [ maxPool 2 ] ]

    /// A small network with batch norm: image input, 1..4 conv / residual / pool blocks,
    /// flatten, an optional linear-bn-act, a linear output. Filtered to valid specs.
    let networkWithBatchNorm: Gen<NetworkSpec> =
        gen {
            let! c = Gen.choose (1, 3)
            let! hw = Gen.choose (4, 9)
            let! blocks = Gen.choose (1, 4) |> Gen.bind (fun n -> Gen.listOfLength n block)
            let! hidden = Gen.elements [ None; Some 5; Some 9 ]
            let! classes = Gen.choose (1, 5)

            let head =
                match hidden with
                | Some n -> [ linear n; bn; act ]
                | None -> []

            return network (Image(c, hw, hw)) (List.concat blocks @ [ flatten ] @ head @ [ linear classes ])
        }
        |> Gen.filter (fun spec -> Result.isOk (Network.validate spec))

    let private positiveFloat =
        Gen.choose (1, 100000) |> Gen.map (fun k -> float k / 997.0)

    let private sgd =
        gen {
            let! lr = positiveFloat
            let! m = Gen.choose (0, 99) |> Gen.map (fun k -> float k / 100.0)
            let! wd = positiveFloat
            let! schedule = Gen.elements [ Training.Cosine; Training.Constant ]
            let! batch = Gen.choose (1, 512)

            return
                ({ LearningRate = lr
                   Momentum = m
                   WeightDecay = wd
                   Schedule = schedule
                   BatchSize = batch }
                : Training.Sgd)
        }

    let private timeSteps =
        Gen.choose (1, 6) |> Gen.bind (fun n -> Gen.listOfLength n (Gen.choose (1, 64)))

    let private ann =
        Gen.oneof
            [ Gen.elements [ ReluAnn; ClipAnn ]
              Gen.choose (1, 8) |> Gen.map QcAnn
              Gen.choose (1, 8) |> Gen.map QcfsAnn ]

    /// Any Phase II layer step with arbitrary (not necessarily valid) settings.
    let layerStep: Gen<ILayerStep> =
        Gen.oneof
            [ gen {
                  let! n = Gen.choose (0, 5000)
                  let! b = Gen.choose (1, 256)
                  return LayerStep.create CalibratePotential.definition { CalibrationImages = n; BatchSize = b }
              }
              gen {
                  let! lr = positiveFloat
                  let! e = Gen.choose (0, 20)
                  let! b = Gen.choose (1, 256)
                  let! a = positiveFloat
                  let! c = Gen.choose (1, 5000)
                  let! s = Gen.choose (1, 5000)
                  let! pat = Gen.choose (0, 10)

                  return
                      LayerStep.create
                          CalibrateWeights.definition
                          { LearningRate = lr
                            Epochs = e
                            BatchSize = b
                            InitialAlpha = a
                            CalibrationImages = c
                            EarlyStoppingImages = s
                            Patience = pat }
              } ]

    let private layerSteps =
        Gen.choose (0, 4) |> Gen.bind (fun n -> Gen.listOfLength n layerStep)

    /// Any step with arbitrary (not necessarily valid) finite settings.
    let step: Gen<IStep> =
        Gen.oneof
            [ gen {
                  let! e = Gen.choose (-2, 40)
                  let! o = sgd
                  return Step.create TrainRelu.definition { Epochs = e; Optimizer = o }
              }
              gen {
                  let! e = Gen.choose (0, 40)
                  let! o = sgd
                  let! t = positiveFloat

                  return
                      Step.create
                          TrainClip.definition
                          { Epochs = e
                            Optimizer = o
                            InitialThreshold = t }
              }
              ann |> Gen.map (fun a -> Step.create FoldBatchNorm.definition { Network = a })
              Gen.choose (-1, 600)
              |> Gen.map (fun n -> Step.create ImportAnn.definition { ReferenceImages = n })
              gen {
                  let! p = Gen.choose (0, 1001) |> Gen.map (fun k -> float k / 10.0)
                  let! images = Gen.choose (0, 5000)
                  return Step.create ClipFromRelu.definition { Percentile = p; Images = images }
              }
              gen {
                  let! e = Gen.choose (0, 10)
                  let! o = sgd
                  return Step.create FineTuneClip.definition { Epochs = e; Optimizer = o }
              }
              gen {
                  let! ts = timeSteps
                  let! e = Gen.choose (0, 10)
                  let! o = sgd
                  let! p = Gen.choose (0, 99) |> Gen.map (fun k -> float k / 100.0)
                  let! fit = Gen.elements [ false; true ]

                  return
                      Step.create
                          FineTuneQC.definition
                          { TimeSteps = ts
                            Epochs = e
                            Optimizer = o
                            NoiseProbability = p
                            FitThresholds = fit }
              }
              gen {
                  let! share = Gen.choose (0, 10) |> Gen.map (fun k -> float k / 10.0)
                  let! replace = Gen.elements [ false; true ]

                  return
                      Step.create
                          Conversion.definition
                          { InitialPotentialShare = share
                            ReplaceMaxPool = replace }
              }
              gen {
                  let! ts = timeSteps
                  let! network = Gen.oneof [ Gen.constant None; ann |> Gen.map Some ]
                  let! anatomy = Gen.elements [ false; true ]
                  let! madeFor = Gen.oneof [ Gen.constant None; timeSteps |> Gen.map Some ]

                  return
                      Step.create
                          Evaluate.definition
                          { TimeSteps = ts
                            Network = network
                            Anatomy = anatomy
                            MadeFor = madeFor }
              }
              layerSteps |> Gen.map PhaseTwo.step
              layerSteps |> Gen.map Ablation.step
              gen {
                  let! l = Gen.choose (1, 16)
                  let! t = positiveFloat
                  let! e = Gen.choose (0, 40)
                  let! o = sgd
                  let! ts = timeSteps

                  return
                      Step.create
                          Qcfs.definition
                          { Levels = l
                            InitialThreshold = t
                            Epochs = e
                            Optimizer = o
                            TimeSteps = ts }
              }
              Gen.elements [ false; true ]
              |> Gen.map (fun p -> Step.create Report.definition { Plots = p }) ]

    let preset: Gen<Preset> =
        let resnetInput = Gen.elements [ Cifar; ImageNet MaxStemPool; ImageNet AvgStemPool ]
        let classes = Gen.choose (1, 1000)

        Gen.oneof
            [ Gen.constant FmnistVgg
              classes |> Gen.map Vgg16
              classes |> Gen.map ResNet20
              Gen.zip resnetInput classes |> Gen.map ResNet18
              Gen.zip resnetInput classes |> Gen.map ResNet34 ]

    /// Any experiment (the custom networks are random valid specs, some with odd layers added).
    let experiment: Gen<Experiment> =
        gen {
            let! name = Gen.elements [ "fmnist-vgg"; "a \"quoted\" name"; "ünïcode ∑"; "" ]
            let! dataset = Gen.elements (List.ofSeq Snn.Core.Data.DatasetDescriptor.All)
            let! path = Gen.elements [ None; Some "/data/x"; Some "C:\\data\\y" ]
            let! train = Gen.elements [ None; Some 1; Some 10000 ]
            let! test = Gen.elements [ None; Some 500 ]
            let! heldOut = Gen.elements [ None; Some 1000 ]

            let! network =
                Gen.oneof
                    [ preset |> Gen.map PresetNetwork
                      gen {
                          let! spec = networkWithBatchNorm

                          let! extra =
                              Gen.elements [ []; [ dropout 0.25; globalAvgPool ]; [ linearFrom 3 4; convFrom 2 5 ] ]

                          return
                              CustomNetwork
                                  { spec with
                                      Layers = spec.Layers @ extra }
                      }
                      gen {
                          let! file = Gen.elements [ "m.onnx"; "models/ü \"x\".onnx"; "/abs/path.onnx" ]
                          let! replace = Gen.elements [ false; true ]

                          return
                              OnnxNetwork
                                  { File = file
                                    ReplaceMaxPool = replace }
                      } ]

            let! pipeline = Gen.choose (0, 10) |> Gen.bind (fun n -> Gen.listOfLength n step)
            let! seed = Gen.choose (0, System.Int32.MaxValue)
            let! seeds = Gen.elements [ []; []; [ 0; 1; 2 ]; [ 7 ]; [ 3; 0 ] ]
            let! profile = Gen.elements [ Quick; Bench; Paper; Custom "mine"; Custom "custom:x"; Custom "" ]
            let! evalBatch = Gen.elements [ None; Some 32; Some 256 ]

            return
                { Name = name
                  Data =
                    { Dataset = dataset
                      Path = path
                      TrainImages = train
                      TestImages = test
                      HeldOut = heldOut
                      EvalBatchSize = evalBatch }
                  Network = network
                  Pipeline = pipeline
                  Seed = seed
                  Seeds = seeds
                  OutputFolder = "runs/x"
                  Profile = profile
                  Device = "cpu" }
        }
