/// The values of an ONNX import: weights as plain arrays, problems, options and the result.
namespace Snn.Dsl.Import

open Snn.Dsl

/// A float32 tensor in row-major order (PyTorch's layout), not yet a TorchSharp tensor.
type Weight =
    { Shape: int64[]
      Data: float32[] }

    member this.Count = this.Shape |> Array.fold (fun a d -> a * d) 1L

/// One reason a model cannot be imported: where (a node's label, "model" or the file) and what.
type ImportError =
    { Where: string
      What: string }

    member this.Message = $"%s{this.Where}: %s{this.What}"

/// How to import.
type ImportOptions =
    {
        /// Replace MaxPool by average pooling of the same window (as QCFS does), with a warning;
        /// without it a MaxPool is refused (a spiking neuron cannot take a max over spike trains).
        ReplaceMaxPool: bool
    }

    static member Default = { ReplaceMaxPool = false }

/// A model imported from ONNX: the network spec (the same type presets use), its weights keyed by
/// the compiled network's state-dict names ("conv1.weight", "bn1.running_var",
/// "layer1.0.shortcut.0.weight", ...), and per activation layer the bounded-ReLU maximum m of a
/// Clip(min 0, max m) ("act1" -> 6.0); activations without one were plain ReLU.
type ImportedModel =
    {
        Spec: NetworkSpec
        Info: NetworkInfo
        /// State-dict name -> value, in execution order of the layers.
        Weights: (string * Weight) list
        /// Activation leaf name (as in Compile's state dict, e.g. "act3", "layer1.0.act2") -> m.
        ClipMaxima: (string * float) list
        /// Facts the user must know (a MaxPool replaced, a BN exported in training mode, ...).
        Warnings: string list
        /// Leaf name -> the labels of the ONNX nodes it was made from.
        Provenance: (string * string list) list
        /// The graph's input and output tensor names (for running the original model).
        InputName: string
        OutputName: string
        /// Number of nodes in the ONNX graph.
        Nodes: int
        OpsetVersion: int64
        Producer: string
    }

/// One layer made from ONNX nodes, before names are known: the DSL layer, its parameters by
/// suffix ("weight", "bias", "running_mean", "running_var"), the clip maximum of an activation,
/// and the nodes it came from.
type internal Part =
    { Layer: Layer
      Params: (string * Weight) list
      ClipMax: float option
      Nodes: Node list }

/// A top-level item of the imported network: a plain layer, or a residual block with its parts in
/// the compiled leaf order (conv1, bn1, act1, conv2, bn2, shortcut.0, shortcut.1, act2).
type internal Item =
    | Plain of Part
    | Block of Residual * Part list * join: Node
