/// Walks the graph from its input along the data path: a chain of single-consumer nodes becomes
/// plain layers, a fork whose two branches meet in an Add becomes a residual block. Every problem
/// found on the way is collected; the walk stops only where the data path itself is lost.
module internal Snn.Dsl.Import.Walk

open System.Collections.Generic
open Snn.Dsl

type private State =
    { Tensor: string
      Shape: Shape
      PendingPad: (int * Node) option
      Items: Item list }

/// The result: items in order, errors (node label, message), warnings.
type Outcome =
    { Items: Item list
      Errors: ImportError list
      Warnings: string list }

let run (graph: OnnxGraph) (options: ImportOptions) (input: Port) (inputShape: Shape) (output: string) : Outcome =
    let errors = ResizeArray<ImportError>()
    let warnings = ResizeArray<string>()
    let shapes = Dictionary<string, Shape>()
    let producers = Dictionary<string, Node>()

    for n in graph.Nodes do
        for o in n.Outputs do
            producers[o] <- n

    let isShapeOp (n: Node) = n.OpType = "Shape"

    let consumers (tensor: string) =
        graph.Nodes
        |> List.filter (fun n -> not (isShapeOp n) && List.contains tensor n.Inputs)

    let ctx: NodeContext.Context =
        { Graph = graph
          Options = options
          FixedBatch = input.Dims |> List.tryHead |> Option.flatten
          Producer =
            fun t ->
                match producers.TryGetValue t with
                | true, n -> Some n
                | _ -> None
          ShapeOf =
            fun t ->
                match shapes.TryGetValue t with
                | true, s -> Some s
                | _ -> None }

    let fail (n: Node) what =
        errors.Add { Where = n.Label; What = what }

    let outputOf (n: Node) = List.head n.Outputs

    let warnFor (n: Node) =
        match n.OpType with
        | "MaxPool" ->
            warnings.Add
                $"%s{n.Label}: MaxPool replaced by average pooling of the same window: the imported network computes a different function from the ONNX model (its accuracy must be measured again)"
        | "BatchNormalization" when OnnxGraph.attrInt n "training_mode" 0L = 1L ->
            warnings.Add
                $"%s{n.Label}: exported with training_mode = 1 (ONNX Runtime normalises with the batch's statistics); the import uses the running statistics, as PyTorch's eval mode does"
        | _ -> ()

    /// Applies one node to the state; None when the walk cannot go on past it.
    let apply (s: State) (n: Node) : State option =
        warnFor n
        let next = outputOf n

        let advance shape items pad =
            shapes[next] <- shape

            Some
                { Tensor = next
                  Shape = shape
                  PendingPad = pad
                  Items = items }

        let pendingPad = s.PendingPad |> Option.map fst |> Option.defaultValue 0

        match Nodes.map ctx n s.Shape pendingPad with
        | Error es ->
            for e in es do
                fail n e

            None
        | Ok(NodeContext.PadBy p) ->
            match s.PendingPad with
            | Some(q, _) -> advance s.Shape s.Items (Some(p + q, n))
            | None -> advance s.Shape s.Items (if p = 0 then None else Some(p, n))
        | Ok(NodeContext.BiasAdd b) ->
            match List.rev s.Items with
            | Plain({ Layer = Linear l } as part) :: rest when not l.Bias ->
                let part' =
                    { part with
                        Layer = Linear { l with Bias = true }
                        Params = part.Params @ [ "bias", b ]
                        Nodes = part.Nodes @ [ n ] }

                advance s.Shape (List.rev (Plain part' :: rest)) None
            | _ ->
                fail n "adds a constant that is not the bias of a MatMul right before it"
                None
        | Ok(NodeContext.Layers parts) ->
            let consumed =
                parts
                |> List.exists (fun p ->
                    match p.Layer with
                    | Conv _
                    | AvgPool _ -> true
                    | _ -> false)

            match s.PendingPad with
            | Some(p, padNode) when not consumed && not parts.IsEmpty ->
                fail
                    padNode
                    $"pads by %d{p} before %s{n.Label}: zero padding is supported only before a Conv or AveragePool"

                None
            | _ ->
                let shape =
                    parts
                    |> List.fold
                        (fun acc p ->
                            acc
                            |> Option.bind (fun sh ->
                                match Network.layerOutput p.Layer sh with
                                | Ok o -> Some o
                                | Error ps ->
                                    for pr in ps do
                                        let e: ValidationError =
                                            { Index = None
                                              Layer = ""
                                              Problem = pr }

                                        fail n (e.Message.TrimStart(':', ' '))

                                    None))
                        (Some s.Shape)

                match shape with
                | Some sh ->
                    let pad = if parts.IsEmpty then s.PendingPad else None
                    advance sh (s.Items @ (parts |> List.map Plain)) pad
                | None -> None

    let parts (items: Item list) =
        items
        |> List.collect (function
            | Plain p -> [ p ]
            | Block(_, ps, _) -> ps)

    /// Follows single consumers from `s` until the tensor is consumed by an Add of two branches
    /// (returned) or, when `branch` is false, until the graph output.
    let rec chain (s: State) (branch: bool) : (State * Node option) option =
        let isJoin (n: Node) =
            n.OpType = "Add"
            && n.Inputs |> List.forall (fun i -> not (graph.Constants.ContainsKey i))

        match consumers s.Tensor with
        | [] when s.Tensor = output && not branch -> Some(s, None)
        | [] ->
            errors.Add
                { Where = $"tensor '%s{s.Tensor}'"
                  What = "is neither consumed by a node nor the graph's output" }

            None
        | [ n ] when isJoin n ->
            if branch then
                Some(s, Some n)
            else
                (fail n $"adds two tensors that do not come from one fork: %s{Residuals.expected}"
                 None)
        | [ n ] -> apply s n |> Option.bind (fun s' -> chain s' branch)
        | [ a; b ] when not branch -> fork s a b |> Option.bind (fun s' -> chain s' branch)
        | many ->
            let names = many |> List.map _.Label |> String.concat ", "

            errors.Add
                { Where = $"tensor '%s{s.Tensor}'"
                  What =
                    $"feeds %d{many.Length} nodes (%s{names}): the DSL expresses only a residual block's two branches (no nesting)" }

            None

    /// A fork at `s` into `a` and `b`: walks both branches to their Add and the activation after it.
    and fork (s: State) (a: Node) (b: Node) : State option =
        let start = { s with Items = []; PendingPad = None }

        let branch (n: Node) =
            if n.OpType = "Add" && List.contains s.Tensor n.Inputs then
                Some(start, Some n)
            else
                apply start n |> Option.bind (fun s' -> chain s' true)

        match branch a, branch b with
        | Some(sa, Some ja), Some(sb, Some jb) when ja.Index = jb.Index ->
            let body, shortcut =
                if (parts sa.Items).Length >= (parts sb.Items).Length then
                    sa, sb
                else
                    sb, sa

            let joined = outputOf ja

            match consumers joined with
            | [ actNode ] when actNode.OpType = "Relu" || actNode.OpType = "Clip" ->
                match Nodes.map ctx actNode body.Shape 0 with
                | Ok(NodeContext.Layers [ act2 ]) ->
                    let inChannels =
                        match s.Shape with
                        | Image(c, _, _) -> c
                        | Vector n -> n

                    match Residuals.assemble inChannels (parts body.Items) (parts shortcut.Items) act2 ja with
                    | Ok block ->
                        let next = outputOf actNode
                        shapes[joined] <- body.Shape
                        shapes[next] <- body.Shape

                        Some
                            { Tensor = next
                              Shape = body.Shape
                              PendingPad = None
                              Items = s.Items @ [ block ] }
                    | Error e ->
                        fail ja e
                        None
                | Ok _ -> None
                | Error es ->
                    for e in es do
                        fail actNode e

                    None
            | _ ->
                fail ja $"the sum is not followed by exactly one Relu or Clip: %s{Residuals.expected}"
                None
        | Some(_, Some ja), Some(_, Some jb) ->
            fail
                ja
                $"the branches from tensor '%s{s.Tensor}' end in different Adds (%s{ja.Label}, %s{jb.Label}): %s{Residuals.expected}"

            None
        | _ -> None

    let start =
        { Tensor = input.Name
          Shape = inputShape
          PendingPad = None
          Items = [] }

    shapes[input.Name] <- inputShape

    let items =
        match chain start false with
        | Some(s, _) ->
            match s.PendingPad with
            | Some(p, n) -> fail n $"pads by %d{p} at the end of the network"
            | None -> ()

            s.Items
        | None -> []

    { Items = items
      Errors = List.ofSeq errors
      Warnings = List.ofSeq warnings }
