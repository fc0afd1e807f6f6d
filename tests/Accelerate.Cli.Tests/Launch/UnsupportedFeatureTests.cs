using Accelerate.Cli.Launch;

namespace Accelerate.Cli.Tests.Launch;

/// <summary>
/// HF accelerate options for features this product does not have are refused as such, each family with its own code;
/// torchrun options that mean nothing here are accepted and said to have no effect.
/// </summary>
[TestClass]
public sealed class UnsupportedFeatureTests
{
    private static LaunchException Refused(params string[] args)
        => Assert.ThrowsExactly<LaunchException>(() => LaunchArguments.Parse([.. args, "app.dll"]));

    [TestMethod]
    [DataRow("ACC3070", "DeepSpeed", "--use_deepspeed")]
    [DataRow("ACC3070", "DeepSpeed", "--deepspeed_config_file", "ds.json")]
    [DataRow("ACC3070", "DeepSpeed", "--zero_stage", "2")]
    [DataRow("ACC3070", "DeepSpeed", "--deepspeed-multinode-launcher=pdsh")]
    [DataRow("ACC3071", "FSDP", "--use_fsdp")]
    [DataRow("ACC3071", "FSDP", "--fsdp_sharding_strategy", "FULL_SHARD")]
    [DataRow("ACC3072", "Megatron-LM", "--use_megatron_lm")]
    [DataRow("ACC3072", "Megatron-LM", "--megatron_lm_tp_degree", "2")]
    [DataRow("ACC3073", "TPU", "--tpu")]
    [DataRow("ACC3073", "TPU", "--tpu_use_sudo")]
    [DataRow("ACC3074", "torch.compile (dynamo)", "--dynamo_backend", "inductor")]
    [DataRow("ACC3074", "torch.compile (dynamo)", "--dynamo_mode", "max-autotune")]
    [DataRow("ACC3075", "fp8 mixed precision", "--mixed_precision", "fp8")]
    [DataRow("ACC3075", "fp8 mixed precision", "--mixed_precision=fp8")]
    [DataRow("ACC3075", "fp8 mixed precision", "--fp8_backend", "te")]
    public void An_option_of_a_feature_we_do_not_have_is_refused_as_not_supported_with_the_features_code(string code, string feature, params string[] option)
    {
        var error = Refused(option);

        Assert.AreEqual(code, error.Code);
        StringAssert.Contains(error.Message, option[0].Split('=')[0]);
        StringAssert.Contains(error.Message, $"{feature} is not supported by Accelerate for .NET");
    }

    [TestMethod]
    public void Dynamo_backend_no_asks_for_nothing_and_is_accepted()
        => Assert.AreEqual("NO", LaunchArguments.Parse(["--dynamo_backend", "NO", "app.dll"]).Get("dynamo_backend"));

    [TestMethod]
    [DataRow("-r", "3")]
    [DataRow("--redirects", "0:1,1:2")]
    [DataRow("--signals_to_handle", "SIGTERM,SIGINT")]
    [DataRow("--local-addr", "10.0.0.2")]
    [DataRow("--start_method", "spawn")]
    [DataRow("--enable_cpu_affinity")]
    public void Torchrun_options_with_no_meaning_here_are_accepted_and_leave_the_program_alone(params string[] option)
    {
        var parsed = LaunchArguments.Parse([.. option, "app.dll", "--lr", "1"]);

        Assert.AreEqual("app.dll", parsed.Program);
        CollectionAssert.AreEqual(new[] { "--lr", "1" }, parsed.ProgramArguments.ToArray());
    }

    [TestMethod]
    public void Help_says_which_options_have_no_effect_and_which_features_are_not_supported()
    {
        var help = LaunchOptionCatalog.Help();

        StringAssert.Contains(help, "Accepted for compatibility, no effect:");
        foreach (var option in new[] { "-r, --redirects", "--signals_to_handle", "--local_addr", "--start_method" })
            StringAssert.Matches(help, new System.Text.RegularExpressions.Regex(System.Text.RegularExpressions.Regex.Escape(option) + @".*\(no effect"));
        StringAssert.Contains(help, "Not supported (refused with a code): DeepSpeed, FSDP, Megatron-LM, TPU");
    }
}
