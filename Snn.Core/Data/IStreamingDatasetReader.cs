namespace Snn.Core.Data;

/// <summary>
/// A reader that can also serve its images streamed from disk (decoded a batch at a time) when the dataset
/// would not fit the memory budget whole. <see cref="DataSplits.Load(DatasetDescriptor, string?, int?, DataMemoryBudget?)"/>
/// uses it automatically.
/// </summary>
public interface IStreamingDatasetReader : IDatasetReader
{
    /// <summary>The training or test images as a streamed dataset (<see cref="ImageDataset.IsStreamed"/>).</summary>
    /// <param name="dataset">The descriptor.</param>
    /// <param name="folder">The dataset folder.</param>
    /// <param name="train">true for the training images, false for the test images.</param>
    /// <param name="budget">The memory budget the dataset's loaders must keep within.</param>
    ImageDataset Stream(DatasetDescriptor dataset, string folder, bool train, DataMemoryBudget budget);
}
