using Accelerate.Hosting;

namespace Accelerate.Runtime.Tests.Hosting;

[TestClass]
public sealed class TrainingFunctionSelectorTests
{
    private static readonly TrainingFunction Pretrain = TrainingFunction.FromInt32("pretrain", "Jobs.Pretrain()", _ => 1);
    private static readonly TrainingFunction Finetune = TrainingFunction.FromInt32("finetune", "Jobs.Finetune()", _ => 2);

    [TestMethod]
    public void A_lone_function_runs_without_a_choice()
    {
        var selection = TrainingFunctionSelector.Select([Pretrain], null, null);

        Assert.AreSame(Pretrain, selection.Function);
        Assert.IsNull(selection.Warning);
    }

    [TestMethod]
    public void A_lone_function_runs_under_another_name_with_a_warning()
    {
        // A config file names "main" by default, as HF accelerate's does.
        var selection = TrainingFunctionSelector.Select([Pretrain], "main", null);

        Assert.AreSame(Pretrain, selection.Function);
        Assert.AreEqual("ACCELERATE_MAIN_TRAINING_FUNCTION is 'main', but the only [TrainingFunction] is 'pretrain' (Jobs.Pretrain()); running it.", selection.Warning);
    }

    [TestMethod]
    public void The_launchers_choice_wins_over_the_builds_and_ignores_case()
    {
        Assert.AreSame(Finetune, TrainingFunctionSelector.Select([Pretrain, Finetune], "FineTune", "pretrain").Function);
        Assert.AreSame(Pretrain, TrainingFunctionSelector.Select([Pretrain, Finetune], " ", "pretrain").Function);
    }

    [TestMethod]
    public void Several_functions_without_a_choice_are_ACC2301_listing_them_and_the_ways_to_choose()
    {
        var error = Assert.ThrowsExactly<AccelerateException>(() => TrainingFunctionSelector.Select([Pretrain, Finetune], null, null));

        Assert.AreEqual("ACC2301", error.Code);
        StringAssert.Contains(error.Message, "'pretrain' (Jobs.Pretrain()), 'finetune' (Jobs.Finetune())");
        StringAssert.Contains(error.Message, "--main_training_function NAME");
        StringAssert.Contains(error.Message, "main_training_function: NAME");
        StringAssert.Contains(error.Message, "-p:MainTrainingFunction=NAME");
    }

    [TestMethod]
    public void A_choice_that_names_none_of_several_is_ACC2302_naming_its_source()
    {
        var error = Assert.ThrowsExactly<AccelerateException>(() => TrainingFunctionSelector.Select([Pretrain, Finetune], null, "evaluate"));

        Assert.AreEqual("ACC2302", error.Code);
        StringAssert.StartsWith(error.Message, "ACC2302: the MSBuild property MainTrainingFunction is 'evaluate', which names no [TrainingFunction]. This program has: 'pretrain'");
    }
}
