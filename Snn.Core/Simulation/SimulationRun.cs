using Snn.Core.Native;
using Snn.Core.Neurons;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Simulation;

/// <summary>
/// One simulation of the layers 0..n-1 of a <see cref="SpikingNetwork"/> on one batch, as its named
/// parts: the constructor prepares every layer (image current, v(0), accumulators), <see cref="RunChunk"/>
/// advances every layer by a chunk of steps (synaptic current, neuron scan, recording), and
/// <see cref="Finish"/> (in SimulationRun.Results.cs) reads the output, the statistics and the captured
/// trains after t steps.
/// Every tensor it creates belongs to the dispose scope that is current when it is created, so the caller
/// (<see cref="SpikingNetwork.Simulate"/>) opens the engine's scope around it.
/// </summary>
internal sealed partial class SimulationRun
{
    private readonly IReadOnlyList<SpikingLayer> layers;
    private readonly long[] inputShape;
    private readonly Tensor images;
    private readonly int n;
    private readonly long batch;
    private readonly ScalarType dtype;
    private readonly bool[]? record;
    private readonly StateBuffers? state;
    private readonly bool fused;
    private readonly int[] pooled;

    /// <summary>Per layer: the current of its image inputs, the same at every step (direct coding), or null.</summary>
    private readonly Tensor?[] imageCurrent;

    /// <summary>Per neuron layer: v, [B, ...], updated in place by every step.</summary>
    private readonly Tensor?[] potential;

    /// <summary>Per neuron layer: theta in the run's dtype (as stored: scalar, per channel or per neuron).</summary>
    private readonly Tensor?[] theta;

    /// <summary>Per neuron layer: theta expanded to one sample's neurons, contiguous (for the fused scan).</summary>
    private readonly Tensor?[] thetaFull;

    /// <summary>Per output layer: per input, sum_t x_source(t) (the linearity shortcut), null for image inputs.</summary>
    private readonly Tensor?[][] inputSum;

    /// <summary>Per recorded neuron layer: sum_t I(t).</summary>
    private readonly Tensor?[] meanInputSum;

    /// <summary>Per recorded neuron layer: sum_t s(t).</summary>
    private readonly Tensor?[] counts;

    /// <summary>Per captured layer: the chunks of its output train, moved to the caller's scope.</summary>
    private readonly List<Tensor>?[] captured;

    /// <summary>Prepares layers 0..n-1: image currents, v(0), thresholds and the accumulators that are asked for.</summary>
    /// <param name="network">The network.</param>
    /// <param name="images">The batch, [B, ...InputShape].</param>
    /// <param name="n">Number of layers to run, from the first.</param>
    /// <param name="record">Layers whose statistics are recorded, or null.</param>
    /// <param name="capture">Layers whose output trains are returned, or null.</param>
    /// <param name="state">Reused potentials and output buffers, or null to allocate fresh ones.</param>
    /// <param name="fusedScan">Whether the fused scan may be used (it is where <see cref="NeuronScan.Supports"/>); false forces tensor operations.</param>
    public SimulationRun(SpikingNetwork network, Tensor images, int n, bool[]? record, bool[]? capture, StateBuffers? state, bool fusedScan = true)
    {
        layers = network.Layers;
        inputShape = network.InputShape;
        this.images = images;
        this.n = n;
        this.record = record;
        this.state = state;
        batch = images.shape[0];
        dtype = images.dtype;
        imageCurrent = new Tensor?[n];
        potential = new Tensor?[n];
        theta = new Tensor?[n];
        thetaFull = new Tensor?[n];
        inputSum = new Tensor?[n][];
        meanInputSum = new Tensor?[n];
        counts = new Tensor?[n];
        captured = new List<Tensor>?[n];
        fused = fusedScan && NeuronScan.Supports(images);
        for (var l = 0; l < n; l++)
        {
            imageCurrent[l] = ImageCurrent(layers[l]);
            if (layers[l].HasNeuron)
            {
                PrepareNeurons(l);
            }
            else
            {
                inputSum[l] = layers[l].Inputs
                    .Select(i => i.Source == SpikingNetwork.ImageSource ? null : (Tensor?)torch.zeros([batch, .. layers[i.Source].NeuronShape], dtype, images.device))
                    .ToArray();
            }

            if (capture?[l] == true)
            {
                captured[l] = [];
            }
        }

        pooled = FusedPooling(capture);
    }

    /// <summary>Advances every layer by <paramref name="steps"/> steps: current, neuron scan, recording, capture.</summary>
    public void RunChunk(int steps)
    {
        using var chunkScope = NewDisposeScope();
        var outputs = new Tensor?[n];
        for (var l = 0; l < n; l++)
        {
            var layer = layers[l];
            if (!layer.HasNeuron)
            {
                AccumulateOutputInputs(l, outputs);
                continue;
            }

            var current = SpikeCurrent(layer, outputs, steps);
            if (current is not null && imageCurrent[l] is not null)
            {
                current.add_(imageCurrent[l]!, Scalars.One);
            }

            var output = OutputBuffer(l, steps);
            if (fused)
            {
                ScanFused(l, current, output, steps);
            }
            else
            {
                ScanTensors(l, current, output, steps);
            }

            if (record?[l] == true)
            {
                RecordMeanInput(l, current, steps);
            }

            if (captured[l] is not null)
            {
                captured[l]!.Add(output.MoveToOuterDisposeScope());
            }

            outputs[l] = output;
        }
    }

    /// <summary>The sum of a layer's image-input currents (computed once per run), or null when it has none.</summary>
    private Tensor? ImageCurrent(SpikingLayer layer)
    {
        Tensor? current = null;
        foreach (var input in layer.Inputs.Where(i => i.Source == SpikingNetwork.ImageSource))
        {
            var c = input.Synapse is null ? images : input.Synapse.Forward(images);
            current = current is null ? c : current.add(c, Scalars.One);
        }

        return current;
    }

    /// <summary>theta, v = v(0) broadcast over the batch, and the recording accumulators of neuron layer l.</summary>
    private void PrepareNeurons(int l)
    {
        var layer = layers[l];
        theta[l] = layer.Threshold!.to_type(dtype);
        thetaFull[l] = theta[l]!.expand(layer.NeuronShape).contiguous();
        // One allocation and one write: v(0) broadcast over the batch (expand + contiguous +
        // clone wrote the state twice, a fixed cost per run that small T cannot amortise).
        potential[l] = state is null
            ? torch.empty([batch, .. layer.NeuronShape], dtype, images.device)
            : state.Potential(l, layer.NeuronShape);
        potential[l]!.copy_(layer.InitialPotential!.to_type(dtype));
        if (record?[l] == true)
        {
            meanInputSum[l] = torch.zeros([batch, .. layer.NeuronShape], dtype, images.device);
            counts[l] = torch.zeros([batch, .. layer.NeuronShape], dtype, images.device);
        }
    }

    /// <summary>
    /// Per layer, the pooling k &gt; 1 to fuse into its neuron scan, or 1: a layer whose spikes reach only
    /// neuron layers (among the first n) through synapses that all pool by the same k first, and whose
    /// trains are not captured, hands on P_k(theta * s) instead of theta * s.
    /// </summary>
    private int[] FusedPooling(bool[]? capture)
    {
        var result = Enumerable.Repeat(1, n).ToArray();
        for (var l = 0; fused && l < n; l++)
        {
            if (!layers[l].HasNeuron || capture?[l] == true || layers[l].NeuronShape.Length != 3)
            {
                continue;
            }

            long? k = null;
            var ok = true;
            for (var m = l + 1; m < n; m++)
            {
                foreach (var input in layers[m].Inputs.Where(i => i.Source == l))
                {
                    // Only pools whose windows tile the input (stride k, no padding) can run inside the scan.
                    var p = input.Synapse is { PoolsInTiles: true } synapse ? synapse.PoolBefore : 1;
                    ok &= layers[m].HasNeuron && p > 1 && (k is null || k == p);
                    k = p;
                }
            }

            if (ok && k is > 1 && k <= Math.Min(layers[l].NeuronShape[1], layers[l].NeuronShape[2]))
            {
                result[l] = (int)k.Value;
            }
        }

        return result;
    }

    /// <summary>The output layer adds, per spiking input, the chunk's sum over steps of its source's outputs.</summary>
    private void AccumulateOutputInputs(int l, Tensor?[] outputs)
    {
        var layer = layers[l];
        for (var i = 0; i < layer.Inputs.Count; i++)
        {
            var source = layer.Inputs[i].Source;
            if (source != SpikingNetwork.ImageSource)
            {
                inputSum[l][i]!.add_(outputs[source]!.sum(dim: 0L), Scalars.One);
            }
        }
    }

    /// <summary>
    /// The synaptic current of a layer's spiking inputs over the chunk, [steps, B, ...]: each synapse runs once on
    /// the stacked [steps * B, ...] outputs of its source (already pooled when the source's scan pooled them);
    /// null when the layer has only image inputs.
    /// </summary>
    private Tensor? SpikeCurrent(SpikingLayer layer, Tensor?[] outputs, int steps)
    {
        Tensor? current = null;
        foreach (var input in layer.Inputs)
        {
            if (input.Source == SpikingNetwork.ImageSource)
            {
                continue;
            }

            var x = outputs[input.Source]!;
            Tensor c;
            if (input.Synapse is null)
            {
                c = current is null ? x.clone() : x;
            }
            else
            {
                var flat = x.flatten(0, 1);
                c = (pooled[input.Source] > 1 ? input.Synapse.ForwardPooled(flat) : input.Synapse.Forward(flat)).unflatten(0, [steps, batch]);
            }

            current = current is null ? c : current.add_(c, Scalars.One);
        }

        return current;
    }

    /// <summary>The buffer that receives layer l's outputs for the chunk: [steps, B, ...], pooled when its scan pools.</summary>
    private Tensor OutputBuffer(int l, int steps)
    {
        var poolK = pooled[l];
        var shape = layers[l].NeuronShape;
        long[] outputShape = poolK > 1 ? [steps, batch, shape[0], shape[1] / poolK, shape[2] / poolK] : [steps, batch, .. shape];
        return state is null ? torch.empty(outputShape, dtype, images.device) : state.Output(l, outputShape);
    }

    /// <summary>The chunk's steps of layer l through the fused raw-memory scan (<see cref="NeuronScan"/>).</summary>
    private void ScanFused(int l, Tensor? current, Tensor output, int steps)
    {
        var poolK = pooled[l];
        var shape = layers[l].NeuronShape;
        NeuronScan.Run(
            potential[l]!, current?.contiguous(), current is null ? imageCurrent[l]!.contiguous() : null, thetaFull[l]!, output,
            record?[l] == true ? counts[l] : null, steps,
            poolK, poolK > 1 ? (int)shape[0] : 0, poolK > 1 ? (int)shape[1] : 0, poolK > 1 ? (int)shape[2] : 0);
    }

    /// <summary>The chunk's steps of layer l as tensor operations, step by step (devices and dtypes the fused scan does not take).</summary>
    private void ScanTensors(int l, Tensor? current, Tensor output, int steps)
    {
        for (var k = 0; k < steps; k++)
        {
            using var stepScope = NewDisposeScope();
            var spikes = IfNeuron.StepInPlace(potential[l]!, current is null ? imageCurrent[l]! : current[k], theta[l]!, output[k]);
            if (record?[l] == true)
            {
                counts[l]!.add_(spikes.to_type(dtype), Scalars.One);
            }
        }
    }

    /// <summary>Adds the chunk's input currents of layer l to sum_t I(t).</summary>
    private void RecordMeanInput(int l, Tensor? current, int steps)
    {
        if (current is null)
        {
            using var alpha = steps.ToScalar();
            meanInputSum[l]!.add_(imageCurrent[l]!, alpha);
        }
        else
        {
            meanInputSum[l]!.add_(current.sum(dim: 0L), Scalars.One);
        }
    }

}
