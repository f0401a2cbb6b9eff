using Snn.Core.Simulation;
using static TorchSharp.torch;

namespace Snn.Core.Calibration;

/// <summary>Reads and checks the ANN activations a_l that Phase II targets.</summary>
internal static class AnnTargets
{
    /// <summary>
    /// a_l for the neuron layer at <paramref name="neuronLayer"/> (an index into
    /// <see cref="SpikingNetwork.NeuronLayers"/>), shape [B, ...NeuronShape], detached, in the images' dtype and on their device.
    /// </summary>
    public static Tensor For(SpikingNetwork network, Func<Tensor, Tensor[]> annActivations, Tensor images, int neuronLayer)
    {
        using var noGrad = no_grad();
        var all = annActivations(images);
        if (all.Length != network.NeuronLayers.Count)
        {
            throw new ArgumentException(
                $"annActivations returned {all.Length} tensors: expected one per spiking layer ({network.NeuronLayers.Count})", nameof(annActivations));
        }

        var layer = network.Layers[network.NeuronLayers[neuronLayer]];
        var a = all[neuronLayer];
        Guard.SameShape(a, [images.shape[0], .. layer.NeuronShape], $"annActivations(images)[{neuronLayer}] ({layer.Name})");
        return a.detach().to(images.dtype, images.device);
    }

    /// <summary>Checks that a neuron-layer index is in [0, count).</summary>
    public static int CheckIndex(SpikingNetwork network, int neuronLayer)
    {
        if (neuronLayer < 0 || neuronLayer >= network.NeuronLayers.Count)
        {
            throw new ArgumentException(
                $"neuronLayer = {neuronLayer} is out of range: expected an index in [0, {network.NeuronLayers.Count - 1}] of the spiking layers", nameof(neuronLayer));
        }

        return network.NeuronLayers[neuronLayer];
    }

    /// <summary>Checks that a batch list is non-empty.</summary>
    public static void CheckBatches(IReadOnlyList<Tensor> batches, string name)
    {
        if (batches.Count == 0)
        {
            throw new ArgumentException($"{name} is empty: expected at least one batch of images", name);
        }
    }
}
